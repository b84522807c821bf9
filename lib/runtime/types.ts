/**
 * The one small interface every runtime implements. Everything above `lib/runtime/` programs against
 * these types only, so the same code runs on Node, Bun and Deno (the postgres.js model: a tiny socket
 * interface and one short shim per runtime).
 */

/** A connected TCP socket, byte-oriented. */
export interface TcpSocket {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Queues bytes for the peer. Returns false when the runtime's buffer is above its high-water mark:
   * the caller should stop writing until its `drain` handler runs.
   */
  write(bytes: Uint8Array): boolean;
  /** Bytes accepted by `write` that the kernel has not taken yet. */
  readonly bufferedBytes: number;
  /** Stops delivering `data` (the peer then sees TCP back-pressure) until `resume`. */
  pause(): void;
  resume(): void;
  /** Closes after the queued bytes are written. */
  end(): void;
  /** Closes at once, dropping queued bytes. */
  destroy(): void;
}

/** What a socket reports. `data` chunks may be reused by the runtime once the call returns: copy to keep. */
export interface TcpHandlers {
  data(chunk: Uint8Array): void;
  drain(): void;
  /** Called exactly once, when the socket is closed for any reason. */
  close(error?: Error): void;
}

/** Called once per socket, before any data arrives; returns that socket's handlers. */
export type TcpOpen = (socket: TcpSocket) => TcpHandlers;

export interface ListenAddress {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
}

export interface TcpListener {
  readonly address: ListenAddress;
  /** Stops accepting; open sockets stay open. */
  close(): Promise<void>;
}

export interface TcpListenOptions {
  hostname: string;
  port: number;
}

export interface TcpConnectOptions {
  hostname: string;
  port: number;
  /** Gives up (rejects) when the connection is not made within this time. */
  timeoutMs: number;
}

export interface HttpServeOptions {
  hostname: string;
  port: number;
  fetch(request: Request): Response | Promise<Response>;
}

export interface HttpServer {
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export interface TcpImplementation {
  readonly name: string;
  listen(options: TcpListenOptions, open: TcpOpen): Promise<TcpListener>;
  connect(options: TcpConnectOptions, open: TcpOpen): Promise<TcpSocket>;
}

export interface HttpImplementation {
  readonly name: string;
  serve(options: HttpServeOptions): Promise<HttpServer>;
}

export function familyOf(address: string): "IPv4" | "IPv6" {
  return address.includes(":") ? "IPv6" : "IPv4";
}

export class ConnectTimeoutError extends Error {
  constructor(hostname: string, port: number, timeoutMs: number) {
    super(`connect to ${hostname}:${port} timed out after ${timeoutMs} ms`);
    this.name = "ConnectTimeoutError";
  }
}

/** Runs a runtime's listen call; its error, which may not say where, is rethrown naming the address. */
export function listenOrExplain<T>(where: { hostname: string; port: number }, listen: () => T): T {
  try {
    return listen();
  } catch (error) {
    throw new Error(`cannot listen on ${where.hostname}:${where.port}: ${(error as Error).message}`, { cause: error });
  }
}
