/**
 * Per-route counts, kept as plain numbers on the hot path: a request costs a bucket search and a few increments,
 * no allocation (prom-client's labelled children hash and validate their labels on every call: ~1.1 µs per
 * request for a counter and a histogram, measured on all three runtimes, against ~30 ns here). Prometheus's
 * text and the live page's windows are both read from these counts when asked.
 */
import { BUCKET_COUNT } from "./latency-buckets.ts";

/** Everything since the node started: how many, how many failed, their latency. */
export class LatencyCounts {
  readonly buckets = new Float64Array(BUCKET_COUNT);
  count = 0;
  errors = 0;
  sumMs = 0;

  record(bucket: number, ms: number, failed: boolean): void {
    this.buckets[bucket]++;
    this.count++;
    this.sumMs += ms;
    if (failed) this.errors++;
  }
}

/** The seconds a window covers: the last ten complete ones. */
export const WINDOW_SECONDS = 10;

/** One route's window: what happened in each of the last seconds. */
export interface WindowSummary {
  buckets: Float64Array;
  count: number;
  errors: number;
}

/**
 * The last WINDOW_SECONDS complete seconds and the current one, each a latency histogram in a ring: a slot is
 * cleared when its second comes round again (on the next request or read; no timer runs).
 */
export class SecondsRing {
  readonly #slots = WINDOW_SECONDS + 1;
  readonly #buckets = new Float64Array(this.#slots * BUCKET_COUNT);
  readonly #counts = new Float64Array(this.#slots);
  readonly #errors = new Float64Array(this.#slots);
  #second: number;

  constructor(second: number) {
    this.#second = second;
  }

  record(second: number, bucket: number, failed: boolean): void {
    if (second !== this.#second) this.#advance(second);
    const slot = second % this.#slots;
    this.#buckets[slot * BUCKET_COUNT + bucket]++;
    this.#counts[slot]++;
    if (failed) this.#errors[slot]++;
  }

  /** The complete seconds before `second`, summed. */
  summary(second: number): WindowSummary {
    if (second !== this.#second) this.#advance(second);
    const summed: WindowSummary = { buckets: new Float64Array(BUCKET_COUNT), count: 0, errors: 0 };
    const current = second % this.#slots;
    for (let slot = 0; slot < this.#slots; slot++) {
      if (slot === current) continue;
      summed.count += this.#counts[slot];
      summed.errors += this.#errors[slot];
      const offset = slot * BUCKET_COUNT;
      for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) summed.buckets[bucket] += this.#buckets[offset + bucket];
    }
    return summed;
  }

  /** Clears the slots of the seconds passed since the last one seen (all of them after a long quiet). */
  #advance(second: number): void {
    if (second < this.#second) return; // a clock never goes back; if it seemed to, keep counting where we are
    const passed = Math.min(second - this.#second, this.#slots);
    for (let step = 1; step <= passed; step++) {
      const slot = (this.#second + step) % this.#slots;
      this.#buckets.fill(0, slot * BUCKET_COUNT, (slot + 1) * BUCKET_COUNT);
      this.#counts[slot] = 0;
      this.#errors[slot] = 0;
    }
    this.#second = second;
  }
}
