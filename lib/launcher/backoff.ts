/**
 * How long to wait before restarting a process that exited: 250 ms, doubling at each exit in a row up to 10 s,
 * so a process that keeps crashing does not eat the machine; and back to 250 ms once a run has lasted 10 s,
 * because a process that stayed up that long had recovered and its next crash is a new story.
 */
export class Backoff {
  #nextMs: number;

  constructor(readonly initialMs = 250, readonly maxMs = 10_000, readonly resetAfterMs = 10_000) {
    this.#nextMs = initialMs;
  }

  /** The delay before the next start, given how long the run that just ended lasted. */
  delayAfter(uptimeMs: number): number {
    if (uptimeMs >= this.resetAfterMs) this.#nextMs = this.initialMs;
    const delayMs = this.#nextMs;
    this.#nextMs = Math.min(delayMs * 2, this.maxMs);
    return delayMs;
  }
}
