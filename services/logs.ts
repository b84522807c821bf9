/**
 * The logs service (docs/logs.md): `npx tsx services/logs.ts [PORT]` (default 9040). Receives the log lines of every
 * node started with --log-to-mesh, over the mesh (`POST/logs`), and writes them as JSON lines to a file that rotates
 * by size: `--logs-file PATH` (default <data-dir>/logs/pilcrow.jsonl), `--logs-max-bytes N` (10 MiB),
 * `--logs-keep N` (5 old files). Its own lines stay in its own output: it ignores --log-to-mesh.
 */
import { keepOwnLinesLocal, LOGS_OPTIONS, LOGS_PORT, readLogsFileSettings, RotatingFile } from "../lib/platform.ts";
import { runService } from "../mod.ts";
import { logs } from "./logs/contract.ts";
import { logsHandlers } from "./logs/handlers.ts";

keepOwnLinesLocal();
await runService(logs, {
  port: LOGS_PORT,
  flags: LOGS_OPTIONS,
  start({ config, dataDir, log }) {
    const { path, maxBytes, keep } = readLogsFileSettings(config.values, dataDir);
    const file = new RotatingFile(path, maxBytes, keep);
    log.info("writing logs to", path, { maxBytes, keep });
    return { handlers: logsHandlers(file), close: async () => file.close() };
  },
});
