/** Deno's own sockets (`Deno.listen`, `Deno.connect`) and server (`Deno.serve`). */
import { concatBytes } from "../bytes.ts";
import { denoPermissions, runtimeCommand, spawnCommand } from "./process.ts";
import {
  ConnectTimeoutError,
  familyOf,
  type HttpImplementation,
  type HttpServeOptions,
  type HttpServer,
  listenOrExplain,
  type StartWorker,
  type TcpConnectOptions,
  type TcpImplementation,
  type TcpListener,
  type TcpListenOptions,
  type TcpOpen,
  type TcpSocket,
} from "./types.ts";
import { closingAnswers, tellClientsThenStop } from "./workers-drain.ts";

/** The slice of Deno's API used here, typed locally so that tsc needs no Deno types. */
interface NetAddr {
  hostname: string;
  port: number;
}
interface DenoConn {
  readonly remoteAddr: NetAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  setNoDelay(enable: boolean): void;
  closeWrite(): Promise<void>;
  close(): void;
}
interface DenoListener extends AsyncIterable<DenoConn> {
  readonly addr: NetAddr;
  close(): void;
}
interface DenoApi {
  listen(options: { hostname: string; port: number; transport: "tcp" }): DenoListener;
  connect(options: { hostname: string; port: number; transport: "tcp"; signal?: AbortSignal }): Promise<DenoConn>;
  serve(
    options: { hostname: string; port: number; reusePort?: boolean; onListen(addr: NetAddr): void },
    handler: HttpServeOptions["fetch"],
  ): { finished: Promise<void>; shutdown(): Promise<void> };
  permissions: { querySync(descriptor: { name: string }): { state: "granted" | "prompt" | "denied" } };
}
const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

const READ_BUFFER_BYTES = 64 * 1024;
/** Above this many queued bytes `write` asks the caller to wait for `drain`, as node:net does at 16 KiB. */
const HIGH_WATER_MARK = 64 * 1024;

/**
 * Deno's connections are promise-based: one read loop that can be paused, and one write loop that
 * drains a queue, so that callers see the same event-style socket as on the other runtimes.
 */
function attach(conn: DenoConn, open: TcpOpen): TcpSocket {
  conn.setNoDelay(true);
  const queue: Uint8Array[] = [];
  let queuedBytes = 0;
  let writing = false;
  let drainWanted = false;
  let ending = false;
  let closed = false;
  let paused = false;
  let resumeReading: (() => void) | undefined;

  const socket: TcpSocket = {
    remoteAddress: conn.remoteAddr.hostname,
    remotePort: conn.remoteAddr.port,
    get bufferedBytes() {
      return queuedBytes;
    },
    write(bytes) {
      if (closed) return false;
      queue.push(bytes);
      queuedBytes += bytes.byteLength;
      if (!writing) void writeLoop();
      if (queuedBytes < HIGH_WATER_MARK) return true;
      drainWanted = true;
      return false;
    },
    pause: () => void (paused = true),
    resume() {
      paused = false;
      resumeReading?.();
    },
    end() {
      ending = true;
      if (!writing) void finish();
    },
    destroy: () => shutdown(),
  };
  const handlers = open(socket);

  function shutdown(error?: Error) {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed by the peer */ }
    resumeReading?.();
    handlers.close(error);
  }

  async function finish() {
    try {
      await conn.closeWrite();
    } catch { /* the peer went first */ }
    shutdown();
  }

  async function writeLoop() {
    writing = true;
    try {
      while (queue.length > 0 && !closed) {
        let chunk = queue.length === 1 ? queue[0] : concatBytes(queue);
        queue.length = 0;
        while (chunk.byteLength > 0) {
          const written = await conn.write(chunk);
          queuedBytes -= written;
          chunk = chunk.subarray(written);
        }
      }
    } catch (error) {
      shutdown(error as Error);
      return;
    } finally {
      writing = false;
    }
    if (ending) return void finish();
    if (drainWanted && !closed) {
      drainWanted = false;
      handlers.drain();
    }
  }

  async function readLoop() {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      while (!closed) {
        if (paused) {
          await new Promise<void>((resolve) => resumeReading = resolve);
          resumeReading = undefined;
          continue;
        }
        const count = await conn.read(buffer);
        if (count === null) break;
        handlers.data(buffer.subarray(0, count));
      }
      shutdown();
    } catch (error) {
      shutdown(closed ? undefined : error as Error);
    }
  }
  void readLoop();
  return socket;
}

export const denoTcp: TcpImplementation = {
  name: "Deno.listen",
  listen(options: TcpListenOptions, open: TcpOpen): Promise<TcpListener> {
    const listener = listenOrExplain(
      options,
      () => Deno.listen({ hostname: options.hostname, port: options.port, transport: "tcp" }),
    );
    let closing = false;
    void (async () => {
      try {
        for await (const conn of listener) attach(conn, open);
      } catch (error) {
        if (!closing) throw error;
      }
    })();
    const { hostname, port } = listener.addr;
    return Promise.resolve({
      address: { address: hostname, family: familyOf(hostname), port },
      // Idempotent, as the other runtimes' listeners are: a service stops accepting, drains, then closes, and
      // Deno throws "Bad resource ID" for a second close, which skipped the rest of the stop.
      close() {
        if (!closing) listener.close();
        closing = true;
        return Promise.resolve();
      },
    });
  },
  async connect(options: TcpConnectOptions, open: TcpOpen): Promise<TcpSocket> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    try {
      const conn = await Deno.connect({ hostname: options.hostname, port: options.port, transport: "tcp", signal });
      return attach(conn, open);
    } catch (error) {
      if (signal.aborted) throw new ConnectTimeoutError(options.hostname, options.port, options.timeoutMs);
      throw error;
    }
  },
};

export const denoHttp: HttpImplementation = {
  name: "Deno.serve",
  serve(options: HttpServeOptions): Promise<HttpServer> {
    const answers = options.sharedPort ? closingAnswers(options.fetch) : undefined;
    return new Promise((resolve) => {
      const server = Deno.serve({
        hostname: options.hostname,
        port: options.port,
        ...(options.sharedPort && { reusePort: true }),
        onListen: ({ hostname, port }) =>
          resolve({
            address: { address: hostname, family: familyOf(hostname), port },
            // Idle keep-alive connections close at once: a worker tells its clients to go first (workers-drain.ts).
            close: () => tellClientsThenStop(answers, () => server.shutdown()),
          }),
      }, answers?.fetch ?? options.fetch);
    });
  },
};

/**
 * A worker is this program again on Deno, with --unstable-net: Deno.serve takes `reusePort` only with it (node:http,
 * the gateway's server on Deno, needs nothing). It gets every permission when this process has them all (`-A`), and
 * else the ones a gateway is started with (denoPermissions): Deno tells a program none of its narrower grants.
 */
export const startDenoWorker: StartWorker = (file, args, env) => {
  const all = ["read", "write", "net", "env", "sys", "run", "ffi"].every((name) =>
    Deno.permissions.querySync({ name }).state === "granted"
  );
  const permissions = [...(all ? ["-A"] : denoPermissions()), "--unstable-net"];
  return spawnCommand(runtimeCommand("deno", file, args, permissions), env, undefined, "pipe");
};
