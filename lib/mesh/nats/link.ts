/**
 * The way to one instance on the NATS mesh: its subject. A request is a NATS request whose body is the book's
 * JSON packet; a ping is one too, its pong the reply. The link is "connected" while the node's NATS connection
 * is up, so the pool's one liveness check (heartbeats, lib/mesh/liveness.ts) and its one round robin work as on
 * TCP. What NATS adds: when nobody subscribes to the subject any more (the instance was killed, or has left and
 * drained), NATS answers "no responders" at once, so the request is known not to have been delivered — it may go
 * to another instance whatever its method — and the instance is reported gone (`vanished`) instead of waited for.
 */
import { Backoff, RECONNECT_BACKOFF } from "../../backoff.ts";
import {
  ConnectionLostError,
  NotConnectedError,
  RequestTimeoutError,
  RequestTooLargeError,
  UnsendableError,
} from "../../tcp/errors.ts";
import { Answer } from "../../wire/answer.ts";
import type { Packet } from "../../wire/packet.ts";
import type { MeshAnswer } from "../core.ts";
import type { InstanceLink, LinkEvents } from "../link.ts";
import { type NatsBus, NoRespondersError } from "./bus.ts";

/**
 * Hears that NATS found nobody on the link's subject, for a request sent at `sentAt` (performance.now()): an
 * announcement heard after it tells that the instance subscribed again meanwhile (presence.ts, forget).
 */
export type Vanished = (link: NatsLink, sentAt: number) => void;

/** A ping waits this long for its pong: liveness, not this timeout, decides when an instance is gone. */
const PING_TIMEOUT_MS = 10_000;
const decoder = new TextDecoder();

export class NatsLink implements InstanceLink {
  readonly subject: string;
  #bus: NatsBus;
  #events: LinkEvents;
  #vanished: Vanished;
  /** How each request in flight fails when the link goes down before its answer. */
  #pending = new Set<(error: Error) => void>();
  #up = false;
  #closed = false;
  #lastReceivedAt = 0;
  #retry = new Backoff(RECONNECT_BACKOFF);
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;

  constructor(bus: NatsBus, subject: string, events: LinkEvents, vanished: Vanished) {
    this.#bus = bus;
    this.subject = subject;
    this.#events = events;
    this.#vanished = vanished;
  }

  get connected(): boolean {
    return this.#up && this.#bus.up;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  open(): this {
    this.#unwatch = this.#bus.onChange((up) => up ? this.#connect() : this.#down(new Error("NATS connection lost")));
    if (this.#bus.up) queueMicrotask(() => this.#connect());
    return this;
  }

  send(packet: Packet): boolean {
    if (!this.connected) return false;
    const sentAt = performance.now();
    this.#bus.request(this.subject, JSON.stringify(packet), PING_TIMEOUT_MS).then(
      (message) => {
        // A pong to a ping sent before the link went down says nothing of the link now (as on TCP, where it
        // would have come on the connection that closed).
        if (!this.#up) return;
        const answer = this.#received(message.data);
        if (answer) this.#events.unsolicited(answer.packet);
      },
      (error) => {
        // A pong that never comes is liveness's to judge; nobody subscribed means gone now.
        if (error instanceof NoRespondersError) this.#gone(sentAt);
      },
    );
    return true;
  }

  requestAnswer(packet: Packet & { key: number }, timeoutMs: number): Promise<MeshAnswer> {
    if (!this.connected || this.#closed) return Promise.reject(new NotConnectedError(this.subject));
    let text: string;
    try {
      text = JSON.stringify(packet);
    } catch {
      return Promise.reject(new UnsendableError(this.subject));
    }
    const sentAt = performance.now();
    return new Promise<MeshAnswer>((resolve, reject) => {
      const fail = (error: Error) => {
        this.#pending.delete(fail);
        reject(error);
      };
      this.#pending.add(fail);
      this.#bus.request(this.subject, text, timeoutMs).then(
        (message) => {
          // Already failed: the link went down first, and the caller has moved on.
          if (!this.#pending.delete(fail)) return;
          const answer = this.#received(message.data);
          if (answer) resolve(answer);
          else reject(new ConnectionLostError(this.subject));
        },
        (error) => {
          if (!this.#pending.has(fail)) return;
          if (error instanceof NoRespondersError) {
            // Delivered to nobody: safe to send elsewhere, whatever the method.
            fail(new NotConnectedError(this.subject));
            this.#gone(sentAt);
          } else if (error instanceof RequestTimeoutError || error instanceof RequestTooLargeError) fail(error);
          // Refused by nats.js (a closed or draining connection), or the reply subscription is gone: whether the
          // instance got it is unknown, as with a connection lost.
          else fail(new UnsendableError(this.subject));
        },
      );
    });
  }

  reset(): void {
    this.#down(new Error("no heartbeat"));
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), this.#retry.next());
  }

  retire(): void {
    this.#stop();
  }

  close(): void {
    this.#stop();
    for (const fail of [...this.#pending]) fail(new ConnectionLostError(this.subject));
  }

  #stop(): void {
    this.#closed = true;
    this.#up = false;
    clearTimeout(this.#retryTimer);
    this.#unwatch?.();
  }

  #connect(): void {
    if (this.#closed || this.#up || !this.#bus.up) return;
    this.#up = true;
    // Quiet since now, as a new TCP connection is: liveness counts from here, not from the epoch (a link never
    // answered yet was taken for gone at its first check, before its first pong could come).
    this.#lastReceivedAt = Date.now();
    this.#events.connected(this);
  }

  #down(error: Error): void {
    if (!this.#up) return;
    this.#up = false;
    for (const fail of [...this.#pending]) fail(new ConnectionLostError(this.subject));
    this.#events.disconnected(this, error);
  }

  /**
   * The subject has no subscriber: the instance is gone for good (a new start has a new subject), and what it was
   * sent fails now rather than at its timeout — it was killed. (A draining instance unsubscribes only once it has
   * nothing in flight and nobody has sent it anything for a while: kit.ts, NATS_LEAVE_SETTLE_MS.)
   */
  #gone(sentAt: number): void {
    if (this.#closed) return;
    this.#down(new Error("no responders"));
    this.#vanished(this, sentAt);
  }

  /** An answer (read by its head when it can be: wire/answer.ts), or undefined (logged) when it is no JSON object. */
  #received(data: Uint8Array): MeshAnswer | undefined {
    this.#lastReceivedAt = Date.now();
    this.#retry.reset();
    const read = Answer.fromHead(data);
    if (read) return read.answer;
    const text = decoder.decode(data);
    let packet: unknown;
    try {
      packet = JSON.parse(text);
    } catch {
      packet = undefined;
    }
    if (typeof packet === "object" && packet !== null && !Array.isArray(packet)) {
      return Answer.parsed(packet as Packet, text);
    }
    this.#bus.log.warn("answer that is not a JSON packet", this.subject, `${text.length} characters`);
    return undefined;
  }
}
