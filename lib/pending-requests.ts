/**
 * Requests waiting for their answers, by key, each with its own deadline: the one way both meshes wait
 * (lib/tcp/client.ts for a TCP peer, lib/mesh/nats/bus.ts for NATS). Deadlines are checked by one sweeping timer
 * per set instead of a timer per request: a timer per request cost Deno 40% of its TCP throughput, and nats.js's
 * own request (a timer, a race and two Errors with their stacks per request) a fifth of the gateway's CPU over
 * NATS. So a timeout may fire up to SWEEP_MS late.
 */
import { RequestTimeoutError } from "./tcp/errors.ts";

const SWEEP_MS = 50;

interface Waiting<A> {
  resolve(answer: A): void;
  reject(error: Error): void;
  /** Date.now() past which the request has timed out. */
  deadline: number;
  timeoutMs: number;
}

export class PendingRequests<K, A> {
  #waiting = new Map<K, Waiting<A>>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #afterSweep: (() => void) | undefined;

  /** `afterSweep`: runs after every sweep that timed a request out (a retiring client closes once idle). */
  constructor(afterSweep?: () => void) {
    this.#afterSweep = afterSweep;
  }

  get size(): number {
    return this.#waiting.size;
  }

  has(key: K): boolean {
    return this.#waiting.has(key);
  }

  /** Waits for the answer of `key`, or fails with RequestTimeoutError; fails at once if `key` is waited for. */
  wait(key: K, timeoutMs: number): Promise<A> {
    if (this.#waiting.has(key)) return Promise.reject(new Error(`key ${String(key)} is already in flight`));
    return new Promise<A>((resolve, reject) => {
      this.#waiting.set(key, { resolve, reject, deadline: Date.now() + timeoutMs, timeoutMs });
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS);
    });
  }

  /** Gives the request of `key` its answer; false when none waits (it timed out, or the key is unknown). */
  settle(key: K, answer: A): boolean {
    const waiting = this.#take(key);
    waiting?.resolve(answer);
    return waiting !== undefined;
  }

  /** Fails the request of `key`; false when none waits. */
  fail(key: K, error: Error): boolean {
    const waiting = this.#take(key);
    waiting?.reject(error);
    return waiting !== undefined;
  }

  /** Fails every request waiting (the connection is gone). */
  failAll(error: Error): void {
    if (this.#waiting.size === 0) return;
    const all = [...this.#waiting.values()];
    this.#waiting.clear();
    this.#stopSweeping();
    for (const { reject } of all) reject(error);
  }

  #take(key: K): Waiting<A> | undefined {
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return undefined;
    this.#waiting.delete(key);
    if (this.#waiting.size === 0) this.#stopSweeping();
    return waiting;
  }

  #sweep(): void {
    const now = Date.now();
    let expired = false;
    for (const [key, waiting] of this.#waiting) {
      if (now < waiting.deadline) continue;
      this.#waiting.delete(key);
      waiting.reject(new RequestTimeoutError(waiting.timeoutMs));
      expired = true;
    }
    if (this.#waiting.size === 0) this.#stopSweeping();
    if (expired) this.#afterSweep?.();
  }

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
