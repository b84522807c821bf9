/**
 * A packet connection over any runtime's TcpSocket: decodes incoming frames, and coalesces outgoing
 * packets into writes of FLUSH_AT_CHARS, the rest at the end of the event-loop turn (lib/write-queue.ts;
 * coalescing was the measured 2–3× win for the TCP hop). Back-pressure:
 * when the runtime's buffer is full, answering sides stop reading from that peer until it drains; and
 * a peer that stops reading cannot make us buffer more than `maxBufferedBytes` — it is disconnected.
 */
import { clearTimeout, setImmediate, setTimeout } from "node:timers";
import type { TcpHandlers, TcpSocket } from "../runtime/types.ts";
import type { Answer } from "../wire/answer.ts";
import { type FrameBudget, FrameDecoder, type FrameProblem, frameText, utf8 } from "../wire/codec.ts";
import type { Packet } from "../wire/packet.ts";
import { WriteQueue } from "../write-queue.ts";

export { FLUSH_AT_CHARS } from "../write-queue.ts";

export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/**
 * How long a frame may take from its first byte to its `¶`. A frame never finished holds its bytes (up to
 * the frame limit) and its connection for nothing; a legitimate 1 MiB frame needs milliseconds on a LAN and
 * 10 s only below 0.8 Mbit/s, so 10 s frees what a stalled or trickling peer holds without cutting real ones.
 */
export const DEFAULT_FRAME_DEADLINE_MS = 10_000;

export interface ConnectionOptions {
  maxFrameBytes?: number;
  maxBufferedBytes?: number;
  /** A frame unfinished this long after its first byte closes the connection (default 10 s). */
  frameDeadlineMs?: number;
  /** Shared by the connections of one server: the bytes all their unfinished frames may hold. */
  frameBudget?: FrameBudget;
  /**
   * Stop reading from the peer while our writes to it are blocked. Right for the side that answers
   * (a peer that does not read its answers gets no more served); wrong for the side that asks, where
   * both sides pausing would deadlock.
   */
  pauseReadsWhenBlocked?: boolean;
  /**
   * At most this many packets are handed over per event-loop turn; the rest of what one read brought waits for the
   * next turn, with reads paused. Right for the side that answers: one 64 KiB read can carry 1,300 requests, and
   * handling them all at once holds all their answers at once (1,300 × 400 KB from a synchronous store); a turn's
   * worth is answered — and a peer that does not read is found out — before more work starts. Default: no limit.
   */
  packetsPerTurn?: number;
}

export interface ConnectionEvents {
  /** `text` is the frame's JSON text, valid (it was just parsed): a proxy can pass it on without re-encoding. */
  packet(packet: Packet, connection: PacketConnection, text: string): void;
  /** Given by the asking side: answers read by their heads, their bytes passed on unparsed (wire/answer.ts). */
  answer?(key: number, answer: Answer, connection: PacketConnection): void;
  /** A frame that was not a packet (it is skipped), or why the connection is being closed. */
  problem(problem: FrameProblem | ConnectionProblem, connection: PacketConnection): void;
  close(connection: PacketConnection, error?: Error): void;
}

export type ConnectionProblem =
  | { kind: "peer-not-reading"; bufferedBytes: number; limit: number }
  | { kind: "frame-deadline"; deadlineMs: number }
  | { kind: "handler-failed"; message: string }
  | { kind: "unencodable"; message: string };

export class PacketConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  #socket: TcpSocket;
  #events: ConnectionEvents;
  #decoder: FrameDecoder;
  #outbox = new WriteQueue<string>((frames) => this.#write(frames));
  #blocked = false;
  /** destroy() was called: nothing more is read, written or reported, though `close` may not have come yet. */
  #destroyed = false;
  #closed = false;
  #frameDeadlineMs: number;
  /** Armed while a frame is unfinished; it re-arms itself rather than being reset for every chunk. */
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #maxBufferedBytes: number;
  #lastReceivedAt = Date.now();
  #pauseReadsWhenBlocked: boolean;
  #packetsPerTurn: number;
  /** Packets handed over from this read (or turn), and those waiting for the next turn (see packetsPerTurn). */
  #dispatched = 0;
  #waiting: { packet: Packet; text: string }[] = [];

  private constructor(socket: TcpSocket, events: ConnectionEvents, options: ConnectionOptions) {
    this.#socket = socket;
    this.#events = events;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#pauseReadsWhenBlocked = options.pauseReadsWhenBlocked ?? false;
    this.#packetsPerTurn = options.packetsPerTurn ?? Infinity;
    this.#frameDeadlineMs = options.frameDeadlineMs ?? DEFAULT_FRAME_DEADLINE_MS;
    this.#decoder = new FrameDecoder({
      packet: (packet, text) => {
        if (this.#waiting.length > 0 || this.#dispatched >= this.#packetsPerTurn) return this.#wait(packet, text);
        this.#hand(packet, text);
      },
      problem: (problem) => {
        this.#events.problem(problem, this);
        if (problem.kind === "over-budget") this.destroy();
      },
      // The asking side reads answers by their heads (wire/answer.ts); it never limits packets per turn.
      answer: events.answer && ((key, answer) => {
        try {
          events.answer!(key, answer, this);
        } catch (error) {
          this.#events.problem({ kind: "handler-failed", message: (error as Error).message }, this);
        }
      }),
    }, { maxFrameBytes: options.maxFrameBytes, budget: options.frameBudget });
  }

  /** Returns the runtime handlers that feed a new connection; `ready` receives it before any data. */
  static handlers(
    socket: TcpSocket,
    events: ConnectionEvents,
    options: ConnectionOptions = {},
    ready?: (connection: PacketConnection) => void,
  ): TcpHandlers {
    const connection = new PacketConnection(socket, events, options);
    ready?.(connection);
    return {
      data(chunk) {
        if (connection.#destroyed) return;
        connection.#lastReceivedAt = Date.now();
        connection.#dispatched = 0;
        connection.#decoder.push(chunk);
        if (connection.#decoder.unfinishedSince !== undefined) connection.#armDeadline();
      },
      drain: () => connection.#drained(),
      close: (error) => connection.#onClose(error),
    };
  }

  /** Closed, or being closed: nothing sent now would reach the peer. */
  get closed(): boolean {
    return this.#closed || this.#destroyed;
  }

  /** When bytes last came from the peer (Date.now()): how heartbeats tell a quiet peer from a gone one. */
  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  /** Queues a packet; it goes out with what else is queued, by the end of this event-loop turn at the latest. */
  send(packet: Packet): boolean {
    // Before encoding: a peer that is being dropped must not cost the encoding of what it will never get.
    if (this.closed) return false;
    let frame: string;
    try {
      frame = frameText(packet);
    } catch (error) {
      // Too deep, cyclic or BigInt: refused here, so no caller can be thrown at from deep inside a send.
      this.#events.problem({ kind: "unencodable", message: (error as Error).message }, this);
      return false;
    }
    return this.sendFrame(frame);
  }

  /** Queues an already-encoded frame (to send one notification to many peers without encoding it again). */
  sendFrame(frame: string): boolean {
    if (this.#destroyed || this.#closed) return false;
    this.#outbox.add(frame, frame.length);
    if (this.#blocked) this.#checkOverflow();
    return true;
  }

  /** Closes after everything queued has been written. */
  end(): void {
    if (this.#destroyed || this.#closed) return;
    this.#outbox.flush();
    this.#socket.end();
  }

  /** Closes at once; from now on the peer's bytes are ignored (a flood cannot make more work or log lines). */
  destroy(): void {
    if (this.#destroyed || this.#closed) return;
    this.#destroyed = true;
    this.#release();
    this.#socket.destroy();
  }

  #hand(packet: Packet, text: string): void {
    this.#dispatched++;
    // A handler that throws must cost only its own packet, not the rest of the chunk or the process.
    try {
      this.#events.packet(packet, this, text);
    } catch (error) {
      this.#events.problem({ kind: "handler-failed", message: (error as Error).message }, this);
    }
  }

  #wait(packet: Packet, text: string): void {
    // Nothing more is read until what waits is handed over: what waits is at most what one read brought.
    if (this.#waiting.length === 0) {
      this.#socket.pause();
      setImmediate(() => this.#nextTurn());
    }
    this.#waiting.push({ packet, text });
  }

  #nextTurn(): void {
    this.#dispatched = 0;
    const waiting = this.#waiting;
    this.#waiting = [];
    let index = 0;
    while (index < waiting.length && this.#dispatched < this.#packetsPerTurn && !this.closed) {
      const { packet, text } = waiting[index++];
      this.#hand(packet, text);
    }
    if (this.closed) return;
    if (index < waiting.length) {
      this.#waiting = waiting.slice(index);
      setImmediate(() => this.#nextTurn());
    } else if (!(this.#blocked && this.#pauseReadsWhenBlocked)) {
      this.#socket.resume();
    }
  }

  #armDeadline(): void {
    if (this.#deadlineTimer !== undefined) return;
    const since = this.#decoder.unfinishedSince;
    if (since === undefined) return;
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      const started = this.#decoder.unfinishedSince;
      if (started === undefined) return;
      if (Date.now() - started < this.#frameDeadlineMs) return this.#armDeadline();
      this.#events.problem({ kind: "frame-deadline", deadlineMs: this.#frameDeadlineMs }, this);
      this.destroy();
    }, Math.max(0, since + this.#frameDeadlineMs - Date.now()));
  }

  /** Gives back what this connection holds: the decoder's bytes (to the server's budget) and the timer. */
  #release(): void {
    this.#decoder.stop();
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    this.#outbox.clear();
    this.#waiting = [];
  }

  /** The outbox's writes: none while the socket is blocked (kept until it drains); none once closed (dropped). */
  #write(frames: string[]): boolean {
    if (this.#destroyed || this.#closed) return true;
    if (this.#blocked) return false;
    if (!this.#socket.write(utf8(frames.length === 1 ? frames[0] : frames.join("")))) {
      this.#blocked = true;
      if (this.#pauseReadsWhenBlocked) this.#socket.pause();
      this.#checkOverflow();
    }
    return true;
  }

  #drained(): void {
    this.#blocked = false;
    if (this.#pauseReadsWhenBlocked && this.#waiting.length === 0) this.#socket.resume();
    this.#outbox.flush();
  }

  /** UTF-16 length undercounts bytes by at most 3×; the limit is a safety net, not an accounting. */
  #checkOverflow(): void {
    if (this.#destroyed) return;
    const buffered = this.#socket.bufferedBytes + this.#outbox.chars;
    if (buffered <= this.#maxBufferedBytes) return;
    this.#events.problem({ kind: "peer-not-reading", bufferedBytes: buffered, limit: this.#maxBufferedBytes }, this);
    this.destroy();
  }

  #onClose(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#events.close(this, error);
  }
}
