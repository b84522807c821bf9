/**
 * What goods serves (docs/protocol.md §5), declared once: its handlers, the services that call it and HTTP
 * clients take their types from it.
 */
import * as v from "valibot";
import { defineService, integer, integerList, LONG_TEXT_CHARS, page, text } from "../../mod.ts";

/**
 * Ids one lookup may ask for: even with names and categories of 128 `¶` each (6 bytes once escaped), the
 * answer stays under the mesh's 1 MiB frame limit.
 */
export const MAX_LOOKUP_IDS = 256;

const summary = { id: v.number(), name: v.string(), category: v.string(), price: v.number() };

export const goods = defineService("goods", {
  "POST/goods": {
    params: v.object({ name: text(128), category: text(128), price: integer(), description: text(LONG_TEXT_CHARS) }),
    answer: v.object({}),
  },
  "GET/goods": {
    params: v.object(page),
    answer: v.object({ results: v.array(v.object({ ...summary, description: v.string() })) }),
  },
  "DELETE/goods": { params: v.object({ id: integer() }), answer: v.object({}) },
  /** Several goods at once, by id (`ids=1,2,3` over HTTP), in id order; an id with no goods is left out. */
  "GET/goods/lookup": {
    params: v.object({ ids: integerList(MAX_LOOKUP_IDS) }),
    answer: v.object({ results: v.array(v.object(summary)) }),
  },
});
