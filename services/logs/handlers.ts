/**
 * The logs service's answer: a batch is written to the file, whole, before it is acknowledged — an acknowledged
 * line is in the file even if this process is killed the next moment (lib/logs/rotating-file.ts).
 */
import type { RotatingFile } from "../../lib/platform.ts";
import type { Handlers } from "../../mod.ts";
import type { logs } from "./contract.ts";

/** The event of the line the logs service writes for lines a node could not send it. */
export const DROPPED_EVENT = "log lines dropped";

export function logsHandlers(file: RotatingFile): Handlers<typeof logs> {
  return {
    "POST/logs": async ({ lines, dropped, node }) => {
      const written = lines.map((line) => JSON.stringify(node === undefined ? line : { ...line, node }));
      if (dropped) {
        // In the file where the gap is: before the first line that came after it.
        const process = lines[0].process;
        const details = [{ lines: dropped, by: node ?? process }];
        written.unshift(
          JSON.stringify({
            time: new Date().toISOString(),
            level: "warn",
            process,
            event: DROPPED_EVENT,
            details,
            node,
          }),
        );
      }
      file.append(written);
      return { written: written.length };
    },
  };
}
