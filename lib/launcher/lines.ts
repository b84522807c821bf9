/** Splits a child's output stream into lines. */
import type { Readable } from "node:stream";

/** Calls `onLine` with every line (without its newline), and with an unterminated last line when the stream ends. */
export function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  stream.on("end", () => {
    if (partial !== "") onLine(partial);
  });
}
