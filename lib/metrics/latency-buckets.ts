/**
 * The latency buckets every Pilcrow node counts in: fine ones (about 12-17% wide, 0.05 ms to 10 s) for the live
 * page's p50 and p99, laid so that each of Prometheus's coarse bounds is one of them — the histogram a scrape shows
 * is summed from the same counts, exactly. One mechanism, two views; nothing recorded twice.
 */

/** Prometheus's `le` bounds, in seconds: 1 ms to 10 s, then +Inf. */
export const PROMETHEUS_BOUNDS_SECONDS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Steps between two coarse bounds: enough for a useful p99, few enough for a binary search of 7 compares. */
const STEPS = 6;

/** Upper bounds of the fine buckets, in ms, ascending; a last, unbounded bucket follows them. */
export const FINE_BOUNDS_MS: readonly number[] = (() => {
  const coarse = [0.05, 0.1, 0.25, 0.5, ...PROMETHEUS_BOUNDS_SECONDS.map((seconds) => seconds * 1000)];
  const bounds = [coarse[0]];
  for (let index = 1; index < coarse.length; index++) {
    const [low, high] = [coarse[index - 1], coarse[index]];
    for (let step = 1; step < STEPS; step++) bounds.push(low * (high / low) ** (step / STEPS));
    // The coarse bound itself, exactly (not a power's rounding): Prometheus's `le` must count what it says.
    bounds.push(high);
  }
  return bounds;
})();

/** Fine buckets, the unbounded one included. */
export const BUCKET_COUNT = FINE_BOUNDS_MS.length + 1;

/** For each Prometheus bound, the index of the fine bucket that ends at it. */
export const PROMETHEUS_BOUND_INDEXES: readonly number[] = PROMETHEUS_BOUNDS_SECONDS.map((seconds) =>
  FINE_BOUNDS_MS.indexOf(seconds * 1000)
);

/** The fine bucket of a latency: the first whose bound is at least `ms` (Prometheus's `le` is inclusive). */
export function bucketIndex(ms: number): number {
  let low = 0;
  let high = FINE_BOUNDS_MS.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (FINE_BOUNDS_MS[middle] < ms) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The `quantile` (0..1) of what `counts` holds, in ms, interpolated inside its bucket; null when it holds nothing.
 * Past the last bound there is no upper edge: the last bound is the answer (a p99 "over 10 s").
 */
export function percentileMs(counts: ArrayLike<number>, quantile: number): number | null {
  let total = 0;
  for (let index = 0; index < counts.length; index++) total += counts[index];
  if (total === 0) return null;
  const rank = quantile * total;
  let below = 0;
  for (let index = 0; index < counts.length; index++) {
    const inBucket = counts[index];
    if (inBucket > 0 && below + inBucket >= rank) {
      if (index >= FINE_BOUNDS_MS.length) return FINE_BOUNDS_MS[FINE_BOUNDS_MS.length - 1];
      const lower = index === 0 ? 0 : FINE_BOUNDS_MS[index - 1];
      return lower + (FINE_BOUNDS_MS[index] - lower) * ((rank - below) / inBucket);
    }
    below += inBucket;
  }
  return FINE_BOUNDS_MS[FINE_BOUNDS_MS.length - 1];
}
