/** The example service's contract, declared once: its handler and any caller take their types from here. */
import * as v from "valibot";
import { defineService } from "../mod.ts";

const words = v.pipe(v.string(), v.maxLength(100));

export const echo = defineService("echo", {
  "GET/echo": { params: v.object({ text: words }), answer: v.object({ echo: v.string() }) },
});
