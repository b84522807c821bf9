/**
 * The one small interface every runtime implements. Everything above `lib/runtime/` programs against
 * these types only, so the same code runs on Node, Bun and Deno (the postgres.js model: a tiny socket
 * interface and one short shim per runtime).
 */
import type { ChildProcess } from "node:child_process";

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
  /** A connection with no request in progress is closed after this long (DEFAULT_HTTP_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /**
   * A request's head and body must have arrived this long after it began (DEFAULT_HTTP_REQUEST_TIMEOUT_MS);
   * past it the request is answered 408 or its connection closed, and what it sent is let go.
   */
  requestTimeoutMs?: number;
  /** The most connections open at once, where the runtime caps them cheaply (Node); more are closed at once. */
  maxConnections?: number;
  /**
   * The longest `fetch` may take to answer once it has a request. Bun's idle timeout also runs while a request
   * is being answered, so on Bun it is kept above this.
   */
  longestAnswerMs?: number;
  /**
   * One of several processes serving this port (`--workers`): it listens beside the others (SO_REUSEPORT, or through
   * Node's cluster primary), and its `close` lets its clients go to them (every answer from then on says
   * `Connection: close`; see workers-drain.ts). Otherwise the port is this server's alone, in a cluster worker too.
   */
  sharedPort?: boolean;
}

/** Node's own keep-alive timeout; Bun's default is 10 s. */
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 5000;
/** Ample for the gateway's 128 KiB body limit at 13 KB/s; a stalled body costs its memory no longer than this. */
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 10_000;
/** Far above what one gateway serves at once, far below the descriptors a flood could take. */
export const DEFAULT_HTTP_MAX_CONNECTIONS = 10_000;

export interface HttpServer {
  readonly address: ListenAddress;
  close(): Promise<void>;
}

/** PEM texts: this node's certificate (chain) and private key, and the CA that signs every node of the mesh. */
export interface TlsCredentials {
  cert: string;
  key: string;
  ca: string;
}

/** A peer the TLS layer turned away (no certificate, or one the mesh CA did not sign, or expired), and why. */
export type TlsRefused = (peer: { address: string; port: number }, reason: string) => void;

/** A peer that has not finished the TLS handshake by then is disconnected, as one stuck in the mesh handshake is. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 5000;

export interface TcpImplementation {
  readonly name: string;
  listen(options: TcpListenOptions, open: TcpOpen): Promise<TcpListener>;
  connect(options: TcpConnectOptions, open: TcpOpen): Promise<TcpSocket>;
}

export interface HttpImplementation {
  readonly name: string;
  serve(options: HttpServeOptions): Promise<HttpServer>;
}

/**
 * Starts one worker of a program that serves one port from several processes (`--workers`): the entry point `file`
 * again, with `args`, and `env` added to this process's environment. Its stdin, stdout and stderr are pipes (the
 * launcher's Supervisor reads its readiness from stdout and stops it by closing stdin). Each runtime starts it its
 * own way, so that its `serve({ sharedPort: true })` shares the port.
 */
export type StartWorker = (file: string, args: string[], env: Record<string, string>) => ChildProcess;

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
