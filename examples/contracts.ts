/**
 * The contracts of the two example services, each declared once: echo's handler, shout's call to echo, and any
 * program calling them through the gateway with the typed client all take their types from here.
 */
import * as v from "valibot";
import { defineService } from "../mod.ts";

const words = v.pipe(v.string(), v.maxLength(100));

export const echo = defineService("echo", {
  "GET/echo": { params: v.object({ text: words }), answer: v.object({ echo: v.string() }) },
});

export const shout = defineService("shout", {
  "GET/shout": { params: v.object({ text: words }), answer: v.object({ shout: v.string() }) },
});
