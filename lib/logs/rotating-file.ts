/**
 * A file of JSON lines that rotates by size: when the next line would take it past `maxBytes`, `path` becomes
 * `path.1`, `.1` becomes `.2`… and `.keep` is removed. Every append is one synchronous write into the file
 * (the system's page cache): once append returns, a crash or SIGKILL of this process loses nothing of it (a crash
 * of the machine may lose the last seconds, as with any file not fsync'd).
 *
 * Written by hand rather than with @logtape/file's rotating sink: that sink buffers (bufferSize, flushed later) and
 * rotates between its own buffered writes, while the logs service acknowledges a batch only once it is in the file,
 * and the ~40 lines here need no logger framework around them (docs/logs.md).
 */
import { Buffer } from "node:buffer";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export class RotatingFile {
  #fd: number;
  #size: number;

  constructor(readonly path: string, readonly maxBytes: number, readonly keep: number) {
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, "a");
    this.#size = fstatSync(this.#fd).size;
  }

  /** Writes the lines (each without its newline) in as few writes as the rotations allow. */
  append(lines: readonly string[]): void {
    let chunk = "";
    let chunkBytes = 0;
    for (const line of lines) {
      const text = line + "\n";
      const bytes = Buffer.byteLength(text);
      if (this.#size + chunkBytes + bytes > this.maxBytes && this.#size + chunkBytes > 0) {
        this.#write(chunk);
        chunk = "";
        chunkBytes = 0;
        this.#rotate();
      }
      chunk += text;
      chunkBytes += bytes;
    }
    this.#write(chunk);
  }

  close(): void {
    closeSync(this.#fd);
  }

  #write(text: string): void {
    if (text === "") return;
    const bytes = Buffer.from(text);
    // writeSync may write less than asked (a full disk, a signal): what is left is written, or the error thrown.
    for (let written = 0; written < bytes.length;) written += writeSync(this.#fd, bytes, written);
    this.#size += bytes.length;
  }

  #rotate(): void {
    closeSync(this.#fd);
    rmSync(`${this.path}.${this.keep}`, { force: true });
    for (let index = this.keep - 1; index >= 1; index--) {
      if (existsSync(`${this.path}.${index}`)) renameSync(`${this.path}.${index}`, `${this.path}.${index + 1}`);
    }
    if (this.keep > 0) renameSync(this.path, `${this.path}.1`);
    else rmSync(this.path, { force: true });
    this.#fd = openSync(this.path, "a");
    this.#size = 0;
  }
}
