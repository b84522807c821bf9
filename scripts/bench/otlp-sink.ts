/**
 * An OTLP/HTTP endpoint that takes every export and keeps nothing but a count: where the bench's processes send
 * their spans when it measures what exporting them costs (the export, not a collector's work, is what is measured).
 */
import { createServer } from "node:http";

export interface OtlpSink {
  url: string;
  /** Export requests received so far. */
  readonly exports: number;
  close(): Promise<void>;
}

export function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      exports++;
      response.writeHead(200, { "content-type": "application/json" });
      response.end("{}");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        get exports() {
          return exports;
        },
        close: () => new Promise((closed) => server.close(() => closed())),
      });
    });
  });
}
