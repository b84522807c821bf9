/** What members serves (docs/protocol.md §5), declared once. */
import * as v from "valibot";
import { defineService, text } from "../../mod.ts";

const username = v.pipe(text(128), v.minLength(1));
/** Bounded so that a huge password cannot make hashing a denial of service. */
const password = v.pipe(v.string(), v.maxLength(1024));

export const members = defineService("members", {
  /** Registers; a `passwordConfirm` field, which the book's client sends, is ignored. */
  "POST/members": { params: v.object({ username, password }), answer: v.object({}) },
  /** Logs in: the member's id, or `invalid password` for an unknown user as for a wrong password. */
  "GET/members": { params: v.object({ username, password }), answer: v.object({ userid: v.number() }) },
  "DELETE/members": { params: v.object({ username }), answer: v.object({}) },
});
