/** What goods serves (docs/protocol.md §5), declared once: its handlers, its callers and HTTP clients take their types from it. */
import * as v from "valibot";
import { defineService, integer, LONG_TEXT_CHARS, page, text } from "../../mod.ts";

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
});
