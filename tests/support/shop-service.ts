/**
 * The shop service: adds goods through a typed call carrying the idempotency key its client chose, so that a
 * call made again (the client retried the shop) is done once by goods.
 */
import * as v from "valibot";
import { defineService, runService, ServiceError, text } from "../../mod.ts";
import { goods } from "../../services/goods/contract.ts";

export const shop = defineService("shop", {
  "POST/shop/goods": { params: v.object({ name: text(128), orderKey: text(255) }), answer: v.object({}) },
});

await runService(shop, {
  port: 0,
  uses: [goods],
  start: () => ({
    handlers: {
      "POST/shop/goods": async ({ name, orderKey }, { call }) => {
        const answer = await call("POST/goods", { name, category: "shop", price: 1, description: "d" }, {
          idempotencyKey: orderKey,
        });
        if (answer.errorcode !== 0) throw new ServiceError(answer.errormessage);
      },
    },
  }),
});
