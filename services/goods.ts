/** Goods (SPEC §5): `npx tsx services/goods.ts [PORT]` (default 9010). */
import * as v from "valibot";
import { ServiceError } from "../lib/service/errors.ts";
import { route } from "../lib/service/kit.ts";
import { integer, LONG_TEXT_CHARS, page, PAGING_ADVICE, text } from "../lib/service/params.ts";
import { runService } from "../lib/service/run.ts";

await runService("goods", 9010, ({ goods }) => ({
  "POST/goods": route(
    v.object({ name: text(128), category: text(128), price: integer(), description: text(LONG_TEXT_CHARS) }),
    async (params) => void await goods.add(params),
  ),
  "GET/goods": route(v.object(page), async ({ limit, after }) => {
    const results = await goods.list({ limit, after });
    if (results.length === 0) throw new ServiceError("no data");
    return { results };
  }, { tooLargeAdvice: PAGING_ADVICE }),
  "DELETE/goods": route(v.object({ id: integer() }), async ({ id }) => void await goods.remove(id)),
}));
