/**
 * Tools for the hostile-input suite: a seeded random source (a failure reproduces from the printed seed), raw
 * TCP exchanges that record how the server ended them, a peer that never reads, a raw HTTP/1.1 client that reads
 * whatever comes back, and a process's resident memory and open descriptors from /proc. Every socket opened
 * here is tracked, so that `destroyAll` closes them whatever happened.
 */
import { Buffer } from "node:buffer";
import { readdirSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import process from "node:process";

/** mulberry32: tiny, fast and fully determined by its seed. */
export class Random {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = this.int(256);
    return bytes;
  }

  text(length: number, alphabet: string): string {
    let text = "";
    for (let i = 0; i < length; i++) text += alphabet[this.int(alphabet.length)];
    return text;
  }

  /** An independent source for one named part of a run, so that each part replays on its own. */
  fork(name: string): Random {
    let hash = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
    return new Random((this.seed ^ hash) >>> 0);
  }
}

/** The seed of this run: PILCROW_HOSTILE_SEED replays one, otherwise the clock picks it. */
export function hostileSeed(): number {
  const given = process.env.PILCROW_HOSTILE_SEED;
  return given === undefined || given === "" ? (Date.now() % 0x7fffffff) >>> 0 : Number(given) >>> 0;
}

/** Resident memory of a process in KiB (VmRSS in /proc/<pid>/status); undefined once it is gone. */
export function rssKiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Open file descriptors of a process (its sockets among them); undefined once it is gone. */
export function fdCount(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the highest seen, in KiB. */
export function watchRss(pid: number | undefined, everyMs = 25): { stop(): number } {
  let peak = rssKiB(pid) ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid) ?? 0);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssKiB(pid) ?? 0);
    },
  };
}

export const MiB = 1024 * 1024;

/** Runs `task(0…count-1)` with at most `width` at a time. */
export async function inPool(count: number, width: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
}

/** How many `¶` (C2 B6) a byte stream holds: the number of complete frames in it. */
export function countFrames(bytes: Uint8Array): number {
  let count = 0;
  for (let at = bytes.indexOf(0xb6, 1); at !== -1; at = bytes.indexOf(0xb6, at + 1)) {
    if (bytes[at - 1] === 0xc2) count++;
  }
  return count;
}

/** The `¶`-framed packets in a byte stream, parsed; a frame that is not JSON comes back as `undefined`. */
export function framesOf(bytes: Buffer): unknown[] {
  const frames = bytes.toString("utf8").split("¶");
  frames.pop();
  return frames.map((frame) => {
    try {
      return JSON.parse(frame);
    } catch {
      return undefined;
    }
  });
}

const sockets = new Set<Socket>();

/** Destroys every socket this module opened that is still open. */
export function destroyAll(): void {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
}

/** Connects to 127.0.0.1:port; the socket swallows its errors (callers look at how it ended instead). */
export function open(port: number, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${port} timed out`));
    }, timeoutMs);
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

export interface Exchange {
  /** What the server sent, up to `keepBytes`. */
  received: Buffer;
  /** Bytes the server sent in all. */
  receivedBytes: number;
  /** The server closed (or reset) the connection before we gave up waiting. */
  closedByServer: boolean;
  /** We stopped waiting: the server neither closed nor satisfied `until` in time. */
  timedOut: boolean;
  milliseconds: number;
}

export interface ExchangeOptions {
  /** After writing: half-close ("end"), drop at once ("destroy"), or keep the connection open ("keep", default). */
  then?: "end" | "destroy" | "keep";
  /** How long to wait for the server to close or for `until` (default 3000 ms). */
  waitMs?: number;
  /** Stop waiting (and close) once what was received satisfies this. */
  until?(received: Buffer): boolean;
  /** Keep at most this many received bytes (default 1 MiB); the rest is only counted. */
  keepBytes?: number;
  /** How long writing may take before we give up on it (default 5000 ms): a server may stop reading. */
  writeMs?: number;
}

/** Connects, writes each chunk in turn (waiting for each to be taken), then waits as `options` say. */
export async function exchange(
  port: number,
  chunks: (string | Uint8Array)[],
  options: ExchangeOptions = {},
): Promise<Exchange> {
  const started = Date.now();
  const socket = await open(port);
  const keepBytes = options.keepBytes ?? MiB;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let receivedBytes = 0;
  let closedByServer = false;
  let wake: () => void = () => {};
  const received = () => Buffer.concat(kept);
  socket.on("data", (chunk: Buffer) => {
    receivedBytes += chunk.length;
    if (keptBytes < keepBytes) {
      const piece = chunk.subarray(0, keepBytes - keptBytes);
      kept.push(piece);
      keptBytes += piece.length;
    }
    wake();
  });
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closedByServer = true;
      resolve();
    })
  );
  const writeDeadline = Date.now() + (options.writeMs ?? 5000);
  for (const chunk of chunks) {
    const remaining = writeDeadline - Date.now();
    if (socket.destroyed || remaining <= 0) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const written = new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
    await Promise.race([written, closed, new Promise<void>((resolve) => timer = setTimeout(resolve, remaining))]);
    clearTimeout(timer);
  }
  if (options.then === "destroy") {
    const result = { received: received(), receivedBytes, closedByServer, timedOut: false };
    socket.destroy();
    return { ...result, milliseconds: Date.now() - started };
  }
  if (options.then === "end" && !socket.destroyed) socket.end();
  const deadline = Date.now() + (options.waitMs ?? 3000);
  let timedOut = false;
  while (!closedByServer && !options.until?.(received())) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      timedOut = true;
      break;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(remaining, 50));
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
      void closed.then(wake);
    });
  }
  const result = { received: received(), receivedBytes, closedByServer, timedOut, milliseconds: Date.now() - started };
  socket.destroy();
  return result;
}

export interface NonReaderResult {
  requests: number;
  bytesWritten: number;
  /** The server closed the connection on us. */
  closedByServer: boolean;
  /** The server stopped reading: nothing left our send buffer for `stallMs`. */
  stalled: boolean;
  /** Bytes still queued on our side when we gave up. */
  queuedBytes: number;
  milliseconds: number;
}

/**
 * A peer that sends requests (`batch` per write) and never reads a byte of the answers, until the server closes
 * the connection, stops taking our bytes for `stallMs`, or `maxMs` have passed; then it vanishes.
 */
export async function nonReadingPeer(
  port: number,
  request: (index: number) => string,
  options: { batch?: number; maxMs?: number; stallMs?: number; maxRequests?: number } = {},
): Promise<NonReaderResult> {
  const { batch = 100, maxMs = 4000, stallMs = 1000, maxRequests = 1_000_000 } = options;
  const socket = await open(port);
  socket.pause();
  let closedByServer = false;
  socket.once("close", () => closedByServer = true);
  const started = Date.now();
  let requests = 0;
  let bytesWritten = 0;
  let stalled = false;
  // Progress is what left our buffer for the kernel; when it (nearly) stops, the server has stopped reading.
  // A trickle is allowed: some runtimes' sockets go on taking a few bytes into buffers of their own.
  let flushed = 0;
  let flushedAt = Date.now();
  while (!closedByServer && Date.now() - started < maxMs) {
    const nowFlushed = bytesWritten - socket.writableLength;
    if (nowFlushed - flushed >= 64 * 1024) {
      flushed = nowFlushed;
      flushedAt = Date.now();
    } else if (socket.writableLength > 0 && Date.now() - flushedAt >= stallMs) {
      stalled = true;
      break;
    }
    if (requests >= maxRequests && socket.writableLength === 0) break;
    if (socket.writableLength > 4 * MiB || requests >= maxRequests) {
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
      continue;
    }
    let text = "";
    for (let i = 0; i < batch && requests < maxRequests; i++) text += request(requests++);
    bytesWritten += Buffer.byteLength(text);
    socket.write(text);
    // Lets the socket flush, and a close by the server be seen.
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
  const result = {
    requests,
    bytesWritten,
    closedByServer,
    stalled,
    queuedBytes: socket.writableLength,
    milliseconds: Date.now() - started,
  };
  socket.destroy();
  return result;
}

export interface HttpResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

export type HttpOutcome =
  | { kind: "response"; response: HttpResponse; milliseconds: number }
  /** The server closed the connection, or we gave up waiting, without a single byte. */
  | { kind: "no-response"; closedByServer: boolean; milliseconds: number }
  /** Bytes came that are not a well-formed HTTP/1.x response. */
  | { kind: "malformed"; why: string; raw: string };

const HEAD_END = Buffer.from("\r\n\r\n");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type Parsed = { complete: false } | { complete: true; response: HttpResponse } | { complete: true; malformed: string };

/**
 * Parses the first final (non-1xx) response of a byte stream. Incomplete while more bytes are needed; a response
 * that ends with the connection (no length, not chunked) is complete once `closed`.
 */
export function parseResponse(bytes: Buffer, closed: boolean, headRequest: boolean): Parsed {
  let offset = 0;
  for (;;) {
    const end = bytes.indexOf(HEAD_END, offset);
    if (end === -1) return closed ? { complete: true, malformed: "the head never ended" } : { complete: false };
    const lines = bytes.subarray(offset, end).toString("latin1").split("\r\n");
    const statusLine = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/.exec(lines[0]);
    if (!statusLine) return { complete: true, malformed: `status line ${JSON.stringify(lines[0].slice(0, 100))}` };
    const status = Number(statusLine[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) {
        return { complete: true, malformed: `header line ${JSON.stringify(line.slice(0, 100))}` };
      }
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    offset = end + HEAD_END.length;
    if (status >= 100 && status < 200) continue;
    const rest = bytes.subarray(offset);
    if (headRequest || status === 204 || status === 304) {
      return { complete: true, response: { status, headers, body: Buffer.alloc(0) } };
    }
    const length = headers.get("content-length");
    if (length !== undefined) {
      if (!/^\d+$/.test(length)) return { complete: true, malformed: `content-length ${length}` };
      const wanted = Number(length);
      if (rest.length >= wanted) {
        return { complete: true, response: { status, headers, body: rest.subarray(0, wanted) } };
      }
      return closed
        ? { complete: true, malformed: `a body of ${rest.length} bytes, not ${wanted}` }
        : { complete: false };
    }
    if (/\bchunked\b/i.test(headers.get("transfer-encoding") ?? "")) {
      const body = dechunk(rest);
      if (body === "malformed") return { complete: true, malformed: "chunked body" };
      if (body) return { complete: true, response: { status, headers, body } };
      return closed ? { complete: true, malformed: "chunked body cut short" } : { complete: false };
    }
    return closed ? { complete: true, response: { status, headers, body: rest } } : { complete: false };
  }
}

/** The body of a complete chunked encoding; undefined while incomplete. */
function dechunk(bytes: Buffer): Buffer | undefined | "malformed" {
  const pieces: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", offset);
    if (lineEnd === -1) return undefined;
    const size = parseInt(bytes.subarray(offset, lineEnd).toString("latin1").split(";")[0], 16);
    if (Number.isNaN(size)) return "malformed";
    const start = lineEnd + 2;
    if (size === 0) return bytes.indexOf("\r\n", start) === -1 ? undefined : Buffer.concat(pieces);
    if (bytes.length < start + size + 2) return undefined;
    pieces.push(bytes.subarray(start, start + size));
    offset = start + size + 2;
  }
}

/**
 * Sends raw request bytes on a fresh connection and reads the first response. With `halfClose` our side is
 * closed after writing; after `waitMs` (default 5000) without a whole response we hang up.
 */
export async function httpRaw(
  port: number,
  request: Uint8Array,
  options: { headRequest?: boolean; halfClose?: boolean; waitMs?: number } = {},
): Promise<HttpOutcome> {
  const headRequest = options.headRequest ?? false;
  const result = await exchange(port, [request], {
    then: options.halfClose ? "end" : "keep",
    waitMs: options.waitMs ?? 5000,
    until: (received) => parseResponse(received, false, headRequest).complete,
  });
  // An interim answer (100 Continue) with no final one after it is no response either.
  if (
    result.receivedBytes === 0
    || /^(HTTP\/1\.[01] 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+$/.test(result.received.toString("latin1"))
  ) {
    return { kind: "no-response", closedByServer: result.closedByServer, milliseconds: result.milliseconds };
  }
  const parsed = parseResponse(result.received, result.closedByServer || result.timedOut, headRequest);
  if (!parsed.complete) return { kind: "malformed", why: "incomplete", raw: preview(result.received) };
  if ("malformed" in parsed) return { kind: "malformed", why: parsed.malformed, raw: preview(result.received) };
  return { kind: "response", response: parsed.response, milliseconds: result.milliseconds };
}

function preview(bytes: Buffer): string {
  return JSON.stringify(bytes.subarray(0, 300).toString("latin1"));
}
