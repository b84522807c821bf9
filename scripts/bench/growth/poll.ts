/** Waiting for a state the growth figures cannot be told of, only see: checked every `everyMs`, at most `limitMs`. */
import { setTimeout as sleep } from "node:timers/promises";

export async function waitUntil(check: () => boolean, what: string, limitMs = 60_000, everyMs = 1): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`mesh growth: no ${what} within ${limitMs} ms`);
    await sleep(everyMs);
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
