/**
 * The asking side: one connection to one peer, made at once and remade with back-off (capped at 3 s) while
 * the client is open. Requests are matched to answers by `key`, many in flight at once, each with its own
 * timeout; when the connection drops every request in flight fails at once instead of waiting it out.
 */
import { Backoff, RECONNECT_BACKOFF } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { PendingRequests } from "../pending-requests.ts";
import { tcpImplementation } from "../runtime/mod.ts";
import type { TcpImplementation } from "../runtime/types.ts";
import { Answer } from "../wire/answer.ts";
import type { FrameProblem } from "../wire/codec.ts";
import type { Packet } from "../wire/packet.ts";
import { type ConnectionOptions, type ConnectionProblem, PacketConnection } from "./connection.ts";
import { AnswerTooLargeError, ConnectionLostError, NotConnectedError, UnsendableError } from "./errors.ts";
import { ClientHandshake, describeIdentity, HANDSHAKE_TIMEOUT_MS, type MeshIdentity } from "./handshake.ts";

export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

export interface PacketClientOptions extends ConnectionOptions {
  hostname: string;
  port: number;
  log: Logger;
  connectTimeoutMs?: number;
  /** The mesh secret: when set, every connection completes the handshake before it counts as connected. */
  secret?: string;
  /** Who is dialled at `port` (needed with a secret): the handshake fails unless that very peer answers. */
  peer?: Omit<MeshIdentity, "port">;
  /** Runs on every (re)connection, before anything else is sent: where a node registers itself. */
  connected?(client: PacketClient): void;
  disconnected?(client: PacketClient, error?: Error): void;
  /** Packets that answer no request in flight (notifications, or answers that came too late). */
  unsolicited?(packet: Packet): void;
  /**
   * Read answers by their heads and keep them as bytes (wire/answer.ts), for a Pilcrow peer only: it escapes `¶`
   * inside its JSON, where a book peer may not — and a frame cut at a `¶` in a string can end in `}` and look whole.
   */
  answersByHead?: boolean;
  tcp?: TcpImplementation;
}

export class PacketClient {
  readonly endpoint: string;
  #options: PacketClientOptions;
  #tcp: TcpImplementation;
  #connection: PacketConnection | undefined;
  #pending = new PendingRequests<number, Answer>(() => this.#closeIfRetiredAndIdle());
  #reconnectBackoff = new Backoff(RECONNECT_BACKOFF);
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connecting = false;
  #closed = false;
  #retiring = false;
  /** The handshake of the current connection while it is under way. */
  #handshake:
    | { check: ClientHandshake; timer: ReturnType<typeof setTimeout>; identity: MeshIdentity; failed: boolean }
    | undefined;

  constructor(options: PacketClientOptions) {
    if (options.secret && !options.peer) throw new Error("a PacketClient with a secret needs the peer it dials");
    this.#options = options;
    this.#tcp = options.tcp ?? tcpImplementation();
    this.endpoint = `${options.hostname}:${options.port}`;
  }

  /** Connected and, with a secret, authenticated. */
  get connected(): boolean {
    return this.#connection !== undefined && this.#handshake === undefined;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  get lastReceivedAt(): number {
    return this.#connection?.lastReceivedAt ?? 0;
  }

  /** Drops the current connection (a peer taken for gone); requests in flight fail, and it reconnects. */
  reset(): void {
    this.#connection?.destroy();
  }

  /** Starts connecting now; keeps reconnecting until `close`. */
  open(): this {
    void this.#connect();
    return this;
  }

  send(packet: Packet): boolean {
    return this.connected && this.#connection!.send(packet);
  }

  /** Sends a packet whose `key` is unique among this client's requests in flight and waits for its answer. */
  async request(packet: Packet & { key: number }, timeoutMs: number): Promise<Packet> {
    return (await this.requestAnswer(packet, timeoutMs)).packet;
  }

  /** Like `request`, with the answer as it came: a proxy passes its bytes on without parsing or encoding them. */
  requestAnswer(packet: Packet & { key: number }, timeoutMs: number): Promise<Answer> {
    const connection = this.#connection;
    if (!connection || !this.connected || this.#retiring) return Promise.reject(new NotConnectedError(this.endpoint));
    if (this.#pending.has(packet.key)) return Promise.reject(new Error(`key ${packet.key} is already in flight`));
    const answer = this.#pending.wait(packet.key, timeoutMs);
    let sent: boolean;
    try {
      sent = connection.send(packet);
    } catch {
      sent = false;
    }
    // Refused, or thrown by the runtime's write: the request fails now, and nothing of it is left waiting.
    if (!sent) this.#pending.fail(packet.key, new UnsendableError(this.endpoint));
    return answer;
  }

  /**
   * Stops reconnecting and sends nothing new, but lets the requests in flight get their answers (or their
   * timeouts); the connection closes once none is left. How a gateway lets go of an instance that is leaving.
   */
  retire(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#retiring = true;
    this.#closeIfRetiredAndIdle();
  }

  /** Fails what is in flight, stops reconnecting, and closes after writing what is queued (a last "leaving"). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#connection?.end();
    this.#pending.failAll(new ConnectionLostError(this.endpoint));
  }

  async #connect(): Promise<void> {
    if (this.#closed || this.#connecting || this.#connection) return;
    this.#connecting = true;
    const { hostname, port, log } = this.#options;
    try {
      await this.#tcp.connect(
        { hostname, port, timeoutMs: this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS },
        (socket) =>
          PacketConnection.handlers(
            socket,
            {
              packet: (packet, _connection, text) => this.#onPacket(packet, text),
              ...(this.#options.answersByHead && { answer: (key, answer) => this.#onAnswer(key, answer) }),
              problem: (problem) => this.#onProblem(problem),
              close: (_connection, error) => this.#onClose(error),
            },
            this.#options,
            (connection) => this.#opened(connection),
          ),
      );
    } catch (error) {
      this.#connecting = false;
      log.debug("connect failed", this.endpoint, (error as Error).message);
      this.#scheduleReconnect();
      return;
    }
    this.#connecting = false;
    // Narrowing from the guard above does not survive the await: the connection may exist now.
    const connection = this.#connection as PacketConnection | undefined;
    if (this.#closed || !connection) return connection?.destroy();
    if (this.#options.secret) return;
    this.#reconnectBackoff.reset();
    this.#options.connected?.(this);
  }

  /** Runs before any data can arrive: with a secret, the connection starts in the handshake. */
  #opened(connection: PacketConnection): void {
    this.#connection = connection;
    const { secret, peer, port } = this.#options;
    if (!secret || !peer) return;
    const identity = { ...peer, port };
    const timer = setTimeout(() => this.#handshakeFailed("timed out"), HANDSHAKE_TIMEOUT_MS);
    this.#handshake = { check: new ClientHandshake(secret, identity), timer, identity, failed: false };
  }

  /** Answers the challenge, then checks the welcome; anything else before it ends the connection. */
  #onHandshakePacket(packet: Packet): void {
    const handshake = this.#handshake!;
    const answer = handshake.check.answer(packet);
    if (answer) return void this.#connection?.send(answer);
    if (!handshake.check.welcomed(packet)) {
      return this.#handshakeFailed(`the peer did not prove it is ${describeIdentity(handshake.identity)}`);
    }
    clearTimeout(handshake.timer);
    this.#handshake = undefined;
    // Only an authenticated connection resets the back-off: a peer that keeps failing the handshake (a
    // relay, a wrong secret) is retried ever more slowly, not ten times a second.
    this.#reconnectBackoff.reset();
    this.#options.connected?.(this);
  }

  /** Ends a connection whose handshake failed; it stays unauthenticated (not `connected`) until closed. */
  #handshakeFailed(why: string): void {
    const handshake = this.#handshake;
    if (!handshake || handshake.failed) return;
    handshake.failed = true;
    clearTimeout(handshake.timer);
    this.#options.log.warn("handshake failed", this.endpoint, why);
    this.#connection?.destroy();
  }

  #onPacket(packet: Packet, text: string): void {
    if (this.#handshake) return this.#onHandshakePacket(packet);
    const key = packet.key;
    if (typeof key !== "number" || !this.#settle(key, Answer.parsed(packet, text))) this.#options.unsolicited?.(packet);
  }

  #onAnswer(key: number, answer: Answer): void {
    if (this.#handshake) return this.#onHandshakePacket(answer.packet);
    if (!this.#settle(key, answer)) this.#options.unsolicited?.(answer.packet);
  }

  /** Gives the request in flight with this key its answer; false when none is. */
  #settle(key: number, answer: Answer): boolean {
    if (!this.#pending.settle(key, answer)) return false;
    this.#closeIfRetiredAndIdle();
    return true;
  }

  /** An answer too large to take fails its own request at once, when its key could be read; others go on. */
  #onProblem(problem: FrameProblem | ConnectionProblem): void {
    this.#options.log.warn("bad frame from", this.endpoint, problem.kind);
    this.#options.log.debug("bad frame", problem);
    if (problem.kind !== "frame-too-large" || problem.key === undefined) return;
    const error = new AnswerTooLargeError(this.endpoint, problem.bytes, problem.limit);
    if (this.#pending.fail(problem.key, error)) this.#closeIfRetiredAndIdle();
  }

  #closeIfRetiredAndIdle(): void {
    if (this.#retiring && this.#pending.size === 0) this.#connection?.end();
  }

  #onClose(error?: Error): void {
    this.#handshakeFailed("the peer closed the connection");
    this.#handshake = undefined;
    this.#connection = undefined;
    this.#pending.failAll(new ConnectionLostError(this.endpoint));
    this.#options.disconnected?.(this, error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#connect();
    }, this.#reconnectBackoff.next());
  }
}
