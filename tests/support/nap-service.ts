/** The nap service (call-contracts.ts): one nap at a time, in a WorkQueue that never begins one whose caller gave up. */
import { runService, WorkQueue } from "../../mod.ts";
import { nap } from "./call-contracts.ts";

const left: (number | null)[] = [];
const begun: number[] = [];
const naps = new WorkQueue({ name: "naps", concurrency: 1, maxWaitMs: 60_000, initialCostMs: 1 });

await runService(nap, {
  port: 0,
  start: () => ({
    handlers: {
      "GET/nap": async ({ ms }, { deadline }) => {
        left.push(Number.isFinite(deadline) ? deadline - Date.now() : null);
        await naps.run(async () => {
          begun.push(ms);
          await new Promise((resolve) => setTimeout(resolve, ms));
        }, deadline);
        return { slept: ms };
      },
      "GET/nap/record": async () => ({ left, begun }),
    },
  }),
});
