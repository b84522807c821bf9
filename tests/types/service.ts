/**
 * Compile-time proof that a service's handlers and its calls to other services take their types from the
 * contracts: every line marked `@ts-expect-error` is a mistake that must not compile (tsc and deno check fail
 * if one does). Never run.
 */
import * as v from "valibot";
import { createLogger } from "../../lib/log.ts";
import { defineService, type Handlers, integer, runService, startService } from "../../mod.ts";

const stock = defineService("stock", {
  "GET/stock": {
    params: v.object({ ids: v.array(v.number()), limit: v.optional(integer()) }),
    answer: v.object({ levels: v.array(v.object({ id: v.number(), count: v.number() })) }),
  },
  "POST/stock": { params: v.object({ id: v.number(), count: v.number() }), answer: v.object({}) },
});

const orders = defineService("orders", {
  "GET/orders": { params: v.object({ userid: integer() }), answer: v.object({ total: v.number() }) },
  "DELETE/orders": { params: v.object({ id: integer() }), answer: v.object({}) },
});

const log = createLogger({ name: "types" });
const where = { hostname: "127.0.0.1", port: 0, distributor: { hostname: "127.0.0.1", port: 9000 }, log };

/** Correct handlers, for the mistakes below to be made one at a time. */
const good: Handlers<typeof orders, typeof stock> = {
  "GET/orders": async ({ userid }, { call, deadline }) => {
    const levels = await call("GET/stock", { ids: [userid] }, { timeoutMs: Math.min(1000, deadline - Date.now()) });
    if (levels.errorcode !== 0) return { total: 0 };
    const counts: number[] = levels.levels.map((level) => level.count);
    return { total: counts.length };
  },
  "DELETE/orders": async () => {},
};

export async function handlerMistakes(): Promise<void> {
  await startService(orders, { ...where, uses: [stock], handlers: good });

  await startService(orders, {
    ...where,
    handlers: {
      ...good,
      // @ts-expect-error: an answer field of the wrong type
      "GET/orders": async () => ({ total: "12" }),
    },
  });
  await startService(orders, {
    ...where,
    handlers: {
      ...good,
      // @ts-expect-error: a declared answer field missing
      "GET/orders": async () => ({}),
    },
  });
  await startService(orders, {
    ...where,
    handlers: {
      ...good,
      // @ts-expect-error: fields in the answer of a route that declares none
      "DELETE/orders": async () => ({ deleted: true }),
    },
  });
  await startService(orders, {
    ...where,
    handlers: {
      // @ts-expect-error: a param the contract does not declare
      "GET/orders": async ({ username }) => ({ total: username }),
      "DELETE/orders": good["DELETE/orders"],
    },
  });
  await startService(orders, {
    ...where,
    handlers: {
      ...good,
      // @ts-expect-error: params are typed after the schema: id is a number
      "DELETE/orders": async ({ id }) => void id.toUpperCase(),
    },
  });
  // @ts-expect-error: a route of the contract without a handler
  await startService(orders, { ...where, handlers: { "GET/orders": good["GET/orders"] } });
  await startService(orders, {
    ...where,
    handlers: {
      ...good,
      // @ts-expect-error: a handler for a route the contract does not declare
      "PUT/orders": async () => {},
    },
  });
  await runService(orders, {
    port: 9050,
    uses: [stock],
    start: () => ({
      handlers: {
        ...good,
        // @ts-expect-error: runService checks the handlers start returns as startService does
        "GET/orders": async () => ({ total: null }),
      },
    }),
  });
}

export const callMistakes: Handlers<typeof orders, typeof stock> = {
  "GET/orders": async (_params, { call }) => {
    // @ts-expect-error: a misspelled route
    await call("GET/stocks", { ids: [1] });
    // @ts-expect-error: a route of the service itself, not of one it uses
    await call("GET/orders", { userid: 1 });
    // @ts-expect-error: a missing param
    await call("POST/stock", { id: 1 });
    // @ts-expect-error: a param of the wrong type
    await call("POST/stock", { id: 1, count: "3" });
    const answer = await call("GET/stock", { ids: [1], limit: "10" });
    // @ts-expect-error: a declared field cannot be read before the answer is known to be a success
    void answer.levels;
    if (answer.errorcode === 0) {
      // @ts-expect-error: an answer field the contract does not declare
      void answer.total;
      // @ts-expect-error: the answer is typed: count is a number
      const count: string = answer.levels[0].count;
      void count;
    } else {
      const why: string = answer.errormessage;
      const retryAfter: number | undefined = answer.retryAfter;
      void [why, retryAfter];
    }
    // @ts-expect-error: an option call does not have
    await call("GET/stock", { ids: [1] }, { deadline: 5 });
    return { total: 0 };
  },
  "DELETE/orders": async (_params, { call }) => {
    void call;
  },
};

export const noUses: Handlers<typeof orders> = {
  "GET/orders": async (_params, { call }) => {
    // @ts-expect-error: a service that declared no `uses` can call nothing
    await call("GET/stock", { ids: [1] });
    return { total: 0 };
  },
  "DELETE/orders": async () => {},
};
