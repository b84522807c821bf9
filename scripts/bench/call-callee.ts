/** The far end of the call figure: a service that answers the fixture's goods. `… call-callee.ts PORT --distributor …`. */
import { runService } from "../../mod.ts";
import { benchCallee } from "./call-contracts.ts";
import { GOODS_LIST } from "./fixture.ts";

await runService(benchCallee, {
  port: 0,
  start: () => ({ handlers: { "GET/goods": async () => ({ results: GOODS_LIST }) } }),
});
