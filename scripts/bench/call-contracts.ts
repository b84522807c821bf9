/**
 * The two services of the call figure, declared as any service author declares theirs: the callee answers the
 * fixture's 10 goods (the same ~1 KB as `GET /goods`), and the caller times calls to it from its own handler.
 */
import * as v from "valibot";
import { defineService, integer } from "../../mod.ts";

const goods = v.object({
  id: v.number(),
  name: v.string(),
  category: v.string(),
  price: v.number(),
  description: v.string(),
});

export const benchCallee = defineService("bench-callee", {
  "GET/goods": { params: v.object({}), answer: v.object({ results: v.array(goods) }) },
});

export const benchCaller = defineService("bench-caller", {
  "GET/calls": {
    params: v.object({
      ms: v.pipe(integer(), v.minValue(1), v.maxValue(600_000)),
      inFlight: v.pipe(integer(), v.minValue(1), v.maxValue(10_000)),
    }),
    answer: v.object({
      calls: v.number(),
      failures: v.number(),
      callsPerSecond: v.number(),
      p50Ms: v.number(),
      p99Ms: v.number(),
    }),
  },
});
