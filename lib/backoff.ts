/**
 * Waiting longer after each failure in a row, so that a peer or a process that keeps failing is not hammered
 * (and does not eat the machine), and starting afresh once things work again. The TCP client reconnects with
 * it (RECONNECT_BACKOFF), the launcher restarts crashed processes with it (RESTART_BACKOFF).
 */
export interface BackoffPolicy {
  /** The first delay, and the delay again after a reset. */
  initialMs: number;
  /** Each delay in a row doubles up to this. */
  maxMs: number;
  /** A run that lasted this long had recovered: the delay after it starts from `initialMs` again (delayAfter). */
  resetAfterMs?: number;
}

/** A peer that is down or refuses the handshake is retried within 100 ms, then ever more slowly, up to 3 s. */
export const RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 3000 };

/**
 * 250 ms, doubling up to 10 s; back to 250 ms once a run has lasted 10 s, because a process that stayed up that
 * long had recovered and its next crash is a new story.
 */
export const RESTART_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 10_000, resetAfterMs: 10_000 };

export class Backoff {
  #policy: BackoffPolicy;
  #nextMs: number;

  constructor(policy: BackoffPolicy) {
    this.#policy = policy;
    this.#nextMs = policy.initialMs;
  }

  /** The delay before the next attempt; the one after it is twice as long, up to the maximum. */
  next(): number {
    const delayMs = this.#nextMs;
    this.#nextMs = Math.min(delayMs * 2, this.#policy.maxMs);
    return delayMs;
  }

  /** An attempt succeeded: the next failure is retried after the first delay again. */
  reset(): void {
    this.#nextMs = this.#policy.initialMs;
  }

  /** The delay before starting again, given how long the run that just ended lasted. */
  delayAfter(uptimeMs: number): number {
    if (uptimeMs >= (this.#policy.resetAfterMs ?? Infinity)) this.reset();
    return this.next();
  }
}
