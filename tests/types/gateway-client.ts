/**
 * Compile-time proof that the typed gateway client takes its types from the contracts: every line marked
 * `@ts-expect-error` is a mistake that must not compile (tsc and deno check fail if one does). Never run.
 */
import * as v from "valibot";
import { gatewayClient } from "../../lib/client/gateway-client.ts";
import { defineService } from "../../lib/contract/contract.ts";

const shop = defineService("shop", {
  "GET/items": {
    params: v.object({ limit: v.optional(v.number()) }),
    answer: v.object({ results: v.array(v.object({ id: v.number(), name: v.string() })) }),
  },
  "POST/items": { params: v.object({ name: v.string() }), answer: v.object({ id: v.number() }) },
});

export async function mistakes(): Promise<void> {
  const api = gatewayClient<typeof shop>("http://127.0.0.1:8000");

  const list = await api.call("GET/items", { limit: 2 });
  if (list.errorcode === 0) {
    const names: string[] = list.results.map((item) => item.name);
    void names;
    // @ts-expect-error: an answer field the contract does not declare
    void list.total;
  }
  // @ts-expect-error: a declared field cannot be read before the answer is known to be a success
  void list.results;

  // @ts-expect-error: a misspelled route
  await api.call("GET/item", {});
  // @ts-expect-error: a route with the wrong method
  await api.call("DELETE/items", {});
  // @ts-expect-error: a missing param
  await api.call("POST/items", {});
  // @ts-expect-error: a param of the wrong type
  await api.call("POST/items", { name: 42 });

  const added = await api.call("POST/items", { name: "pen" });
  if (added.errorcode === 0) {
    // @ts-expect-error: the answer is typed: id is a number
    const id: string = added.id;
    void id;
  } else {
    const message: string = added.errormessage;
    void message;
  }
}
