/**
 * One snapshot a second, shared by every open page: gathering asks every instance over the mesh, so it is done
 * once per tick however many pages watch, never two at once (a tick that comes while one is still gathering is
 * skipped), and not at all while no page is open.
 */
import { clearInterval, setInterval } from "node:timers";

export const TICK_MS = 1000;

/** Hears each snapshot, as its JSON text (encoded once for all). */
export type SnapshotListener = (json: string) => void;

export class SnapshotTicker {
  readonly #take: () => Promise<unknown>;
  readonly #intervalMs: number;
  readonly #listeners = new Set<SnapshotListener>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #gathering = false;
  #latest: string | undefined;

  constructor(take: () => Promise<unknown>, intervalMs = TICK_MS) {
    this.#take = take;
    this.#intervalMs = intervalMs;
  }

  /** Pages listening now. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Whether the ticker runs (it does exactly while some page listens). */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Hears every snapshot from now on, the first at once: the latest one if the ticker runs, else the one it takes
   * now. Returns the way to stop hearing them.
   */
  listen(listener: SnapshotListener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
      this.#tick();
    } else if (this.#latest !== undefined) {
      listener(this.#latest);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.stop();
    };
  }

  /** Stops ticking (the last page closed, or the gateway stops); a snapshot still being taken is dropped. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#latest = undefined;
  }

  #tick(): void {
    if (this.#gathering) return;
    this.#gathering = true;
    this.#take().then((snapshot) => {
      if (this.#timer === undefined) return; // stopped meanwhile: nobody to tell
      this.#latest = JSON.stringify(snapshot);
      for (const listener of this.#listeners) listener(this.#latest);
    }).catch(() => {/* a snapshot that failed is skipped: the next tick tries again */}).finally(() => {
      this.#gathering = false;
    });
  }
}
