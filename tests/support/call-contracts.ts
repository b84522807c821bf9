/**
 * Contracts of the services tests/calls.test.ts runs: nap (sleeps its turn, one nap at a time, and says what
 * it ran), a book-protocol stand-in's, and relay, which calls the other two from its handlers; and who, whose
 * answers say which instance gave them (the mesh tests).
 */
import * as v from "valibot";
import { defineService, integer } from "../../mod.ts";

export const nap = defineService("nap", {
  "GET/nap": { params: v.object({ ms: integer() }), answer: v.object({ slept: v.number() }) },
  /** Per GET /nap received: the ms its caller left it (null without a deadline); and the naps begun, in order. */
  "GET/nap/record": {
    params: v.object({}),
    answer: v.object({ left: v.array(v.nullable(v.number())), begun: v.array(v.number()) }),
  },
});

/** What a service written for the book's protocol answers (tests/support/book-service.ts). */
export const book = defineService("book", {
  "GET/book": { params: v.object({ text: v.string() }), answer: v.object({ echo: v.string() }) },
});

const outcome = v.object({ errorcode: v.number(), errormessage: v.string(), tookMs: v.number() });

export const relay = defineService("relay", {
  /** Waits `waitMs` of its own request's time, then asks nap for a nap of `ms`. */
  "GET/relay/nap": {
    params: v.object({ ms: integer(), waitMs: integer() }),
    answer: v.object({ call: outcome, slept: v.optional(v.number()) }),
  },
  "GET/relay/book": {
    params: v.object({ text: v.string() }),
    answer: v.object({ call: outcome, echo: v.optional(v.string()) }),
  },
});

/** Each answer names the instance (its process id) after sleeping `ms`, so a test sees who got each request. */
const whoRoute = { params: v.object({ ms: v.optional(integer()) }), answer: v.object({ pid: v.number() }) };

export const who = defineService("who", { "GET/who": whoRoute, "POST/who": whoRoute });
