/**
 * What the logs service serves: `POST/logs`, a batch of log lines as nodes write them with `--log json` (each a
 * JSON object with at least time, level, process and event), how many lines the sender dropped since its last
 * batch that got through, and which node sent it. A batch is taken whole or refused whole (`Invalid Parameters`).
 */
import * as v from "valibot";
import { defineService, text } from "../../mod.ts";

/** Lines in one batch at most: a sender sends 100 (lib/logs/shipper.ts), a book-sized margin above. */
export const MAX_BATCH_LINES = 1000;
/** One line's JSON text at most: what the shipper sends whole (it shortens longer ones). */
export const MAX_LINE_CHARS = 16 * 1024;

const LEVELS = ["debug", "info", "warn", "error"] as const;

/** A line's JSON text, or undefined when it has none (too deep to write, say): such a line is refused. */
function jsonText(line: unknown): string | undefined {
  try {
    return JSON.stringify(line);
  } catch {
    return undefined;
  }
}

const line = v.pipe(
  v.looseObject({
    time: v.pipe(v.string(), v.maxLength(64)),
    level: v.picklist(LEVELS),
    process: text(128),
    event: text(1000),
  }),
  v.check((value) => (jsonText(value)?.length ?? Infinity) <= MAX_LINE_CHARS, "a line too long"),
);

export const logs = defineService("logs", {
  "POST/logs": {
    params: v.object({
      lines: v.pipe(v.array(line), v.minLength(1), v.maxLength(MAX_BATCH_LINES)),
      /** Lines the sender dropped (queue full, no logs service) since its last batch that got through. */
      dropped: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      /** The sending node (`goods@127.0.0.1:9010`), added to each of its lines. */
      node: v.optional(text(300)),
    }),
    answer: v.object({ written: v.number() }),
  },
});
