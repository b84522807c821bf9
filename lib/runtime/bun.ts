/** Bun's own sockets (`Bun.listen`, `Bun.connect`) and server (`Bun.serve`). */
import { runtimeCommand, spawnCommand } from "./process.ts";
import {
  ConnectTimeoutError,
  DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  familyOf,
  type HttpImplementation,
  type HttpServeOptions,
  type HttpServer,
  listenOrExplain,
  type StartWorker,
  type TcpConnectOptions,
  type TcpHandlers,
  type TcpImplementation,
  type TcpListener,
  type TcpListenOptions,
  type TcpOpen,
  type TcpSocket,
} from "./types.ts";
import { closingAnswers, tellClientsThenStop } from "./workers-drain.ts";

/** The slice of Bun's API used here, typed locally so that tsc and deno check need no Bun types. */
interface BunSocket {
  data: SocketState;
  readonly remoteAddress: string;
  readonly remotePort: number;
  write(data: Uint8Array): number;
  setNoDelay(enable: boolean): boolean;
  pause(): void;
  resume(): void;
  end(): void;
  terminate(): void;
}
interface BunSocketHandler {
  open(socket: BunSocket): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}
interface BunApi {
  listen(options: { hostname: string; port: number; socket: BunSocketHandler }): {
    hostname: string;
    port: number;
    stop(closeActive?: boolean): void;
  };
  connect(options: { hostname: string; port: number; socket: BunSocketHandler; data: SocketState }): Promise<BunSocket>;
  serve(options: {
    hostname: string;
    port: number;
    fetch: HttpServeOptions["fetch"];
    /** Seconds a connection may pass without a byte either way, request in progress or not; at most 255. */
    idleTimeout?: number;
    /** SO_REUSEPORT: several processes listen on the port, the kernel spreads connections among them (Linux). */
    reusePort?: boolean;
  }): {
    hostname: string;
    port: number;
    stop(closeActive?: boolean): Promise<void>;
  };
}
const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

/** Per-socket state: Bun's `write` takes what the kernel accepts now; the rest waits here for `drain`. */
interface SocketState {
  open?: TcpOpen;
  handlers?: TcpHandlers;
  wrapped?: TcpSocket;
  backlog: Uint8Array[];
  backlogBytes: number;
  ending: boolean;
  failure?: Error;
}

function newState(open?: TcpOpen): SocketState {
  return { open, backlog: [], backlogBytes: 0, ending: false };
}

function flushBacklog(socket: BunSocket, state: SocketState): boolean {
  while (state.backlog.length > 0) {
    const chunk = state.backlog[0];
    const written = socket.write(chunk);
    state.backlogBytes -= Math.max(written, 0);
    if (written < chunk.byteLength) {
      state.backlog[0] = chunk.subarray(Math.max(written, 0));
      return false;
    }
    state.backlog.shift();
  }
  if (state.ending) socket.end();
  return true;
}

function wrap(socket: BunSocket, state: SocketState): TcpSocket {
  return {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    get bufferedBytes() {
      return state.backlogBytes;
    },
    write(bytes) {
      if (state.backlog.length > 0) {
        state.backlog.push(bytes);
        state.backlogBytes += bytes.byteLength;
        return false;
      }
      const written = socket.write(bytes);
      if (written >= bytes.byteLength) return true;
      const rest = bytes.subarray(Math.max(written, 0));
      state.backlog.push(rest);
      state.backlogBytes += rest.byteLength;
      return false;
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end() {
      state.ending = true;
      if (state.backlog.length === 0) socket.end();
    },
    destroy: () => socket.terminate(),
  };
}

function handler(onOpened?: (socket: BunSocket) => void): BunSocketHandler {
  return {
    open(socket) {
      socket.setNoDelay(true);
      const state = socket.data;
      state.wrapped = wrap(socket, state);
      state.handlers = state.open!(state.wrapped);
      onOpened?.(socket);
    },
    data: (socket, chunk) => socket.data.handlers?.data(chunk),
    drain(socket) {
      if (flushBacklog(socket, socket.data)) socket.data.handlers?.drain();
    },
    error: (socket, error) => void (socket.data.failure = error),
    close(socket, error) {
      const state = socket.data;
      const handlers = state.handlers;
      state.handlers = undefined;
      handlers?.close(error ?? state.failure);
    },
  };
}

export const bunTcp: TcpImplementation = {
  name: "Bun.listen",
  listen(options: TcpListenOptions, open: TcpOpen): Promise<TcpListener> {
    const serverHandler = handler();
    const originalOpen = serverHandler.open;
    serverHandler.open = (socket) => {
      socket.data = newState(open);
      originalOpen(socket);
    };
    const listener = listenOrExplain(
      options,
      () => Bun.listen({ hostname: options.hostname, port: options.port, socket: serverHandler }),
    );
    return Promise.resolve({
      address: { address: listener.hostname, family: familyOf(listener.hostname), port: listener.port },
      close: () => Promise.resolve(listener.stop(false)),
    });
  },
  async connect(options: TcpConnectOptions, open: TcpOpen): Promise<TcpSocket> {
    const state = newState(open);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ConnectTimeoutError(options.hostname, options.port, options.timeoutMs)),
        options.timeoutMs,
      );
    });
    const connecting = Bun.connect({ hostname: options.hostname, port: options.port, socket: handler(), data: state });
    try {
      await Promise.race([connecting, timeout]);
    } catch (error) {
      // A connection that completes after the timeout must not linger.
      connecting.then((socket) => socket.terminate(), () => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return state.wrapped!;
  },
};

/**
 * Bun has one knob for idle connections, stalled requests and slow answers alike: a connection silent this
 * long is closed, whatever it is doing. So a stalled body is cut once it has been silent that long (one that
 * trickles is not: only node:http has a deadline for the whole request), and it must outlast the slowest answer.
 */
function idleSeconds(options: HttpServeOptions): number {
  const idleMs = Math.max(options.idleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS, (options.longestAnswerMs ?? 0) + 1000);
  return Math.min(255, Math.ceil(idleMs / 1000));
}

export const bunHttp: HttpImplementation = {
  name: "Bun.serve",
  serve(options: HttpServeOptions): Promise<HttpServer> {
    const answers = options.sharedPort ? closingAnswers(options.fetch) : undefined;
    const server = listenOrExplain(
      options,
      () =>
        Bun.serve({
          hostname: options.hostname,
          port: options.port,
          fetch: answers?.fetch ?? options.fetch,
          idleTimeout: idleSeconds(options),
          ...(options.sharedPort && { reusePort: true }),
        }),
    );
    return Promise.resolve({
      address: { address: server.hostname, family: familyOf(server.hostname), port: server.port },
      // Graceful: no new connections, in-flight requests finish, idle keep-alive connections close (at once: a
      // worker tells its clients to go first, workers-drain.ts).
      close: () => tellClientsThenStop(answers, () => server.stop(false)),
    });
  },
};

/** A worker is this program again on Bun: Bun.serve shares the port with `reusePort`. */
export const startBunWorker: StartWorker = (file, args, env) =>
  spawnCommand(runtimeCommand("bun", file, args), env, undefined, "pipe");
