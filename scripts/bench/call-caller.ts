/**
 * The near end of the call figure: a service whose handler calls the callee with `context.call`, as any handler
 * calls another service, and times each call. `GET/calls {ms, inFlight}` keeps `inFlight` calls outstanding for
 * `ms` and answers how many were made and their latency. The timing is taken here, around `call` itself, rather
 * than by a client sending one request per call: that client's own hop to this service would be counted in every
 * figure, and the call hop is what is measured. `… call-caller.ts PORT --distributor …`.
 */
import { runService } from "../../mod.ts";
import { benchCallee, benchCaller } from "./call-contracts.ts";

/** The value below which `share` of the sorted latencies fall. */
const percentile = (sorted: Float64Array, share: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))];

await runService(benchCaller, {
  port: 0,
  uses: [benchCallee],
  start: () => ({
    handlers: {
      "GET/calls": async ({ ms, inFlight }, { call }) => {
        const latencies: number[] = [];
        let failures = 0;
        const started = performance.now();
        const deadline = started + ms;
        const lane = async () => {
          while (performance.now() < deadline) {
            const sent = performance.now();
            const answer = await call("GET/goods", {});
            if (answer.errorcode === 0) latencies.push(performance.now() - sent);
            else failures++;
          }
        };
        await Promise.all(Array.from({ length: inFlight }, lane));
        const seconds = (performance.now() - started) / 1000;
        const sorted = Float64Array.from(latencies).sort();
        return {
          calls: latencies.length,
          failures,
          callsPerSecond: latencies.length / seconds,
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
        };
      },
    },
  }),
});
