/**
 * Goods as shipped (its contract, store and handlers, on the same data directory or MySQL), except that the
 * first POST /goods to reach any such instance dies by SIGKILL right after its write committed and before its
 * answer is sent: the hard case for a retry. `PILCROW_TEST_CRASH_MARKER` names the file whose creation claims that
 * first POST (O_EXCL: once, across instances).
 */
import { openSync } from "node:fs";
import { signalProcess } from "../../lib/runtime/mod.ts";
import { openStore, runService } from "../../mod.ts";
import { goods } from "../../services/goods/contract.ts";
import { goodsHandlers } from "../../services/goods/handlers.ts";
import { goodsStore } from "../../services/goods/store.ts";

const marker = process.env.PILCROW_TEST_CRASH_MARKER;
if (!marker) throw new Error("PILCROW_TEST_CRASH_MARKER must name the file that marks the crash as done");

/** True the first time, for one process only: the file's exclusive creation is the claim. */
function firstToCrash(): boolean {
  try {
    openSync(marker!, "wx");
    return true;
  } catch {
    return false;
  }
}

await runService(goods, {
  port: 0,
  async start(context) {
    const { store, close } = await openStore("goods", context, goodsStore);
    return {
      handlers: {
        ...goodsHandlers(store),
        "POST/goods": async (params) => {
          await store.add(params);
          if (firstToCrash()) {
            signalProcess(process.pid, "SIGKILL");
            await new Promise(() => {}); // never answers
          }
        },
      },
      close,
    };
  },
});
