/** The logger in-process, writing to captured streams: its formats, and the rate limit that keeps a flood out. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, type LoggerOptions, SUPPRESSED } from "../lib/log.ts";
import { delay } from "./support/processes.ts";

function captured(options: Partial<LoggerOptions> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const log = createLogger({
    name: "test",
    format: "json",
    out: { write: (text: string) => out.push(text) },
    err: { write: (text: string) => err.push(text) },
    ...options,
  });
  const entries = (lines: string[]) => lines.map((line) => JSON.parse(line));
  return { log, out, err, entries };
}

describe("log", () => {
  it("writes one JSON object per line: debug and info to out, warn and error to err", () => {
    const { log, out, err, entries } = captured({ level: "debug" });
    log.debug("d", 1);
    log.info("Distributor Notification", { nodes: 2 });
    log.warn("w", "a\nb");
    log.error("e", new Error("boom"));
    assert.ok([...out, ...err].every((line) => line.endsWith("\n") && line.indexOf("\n") === line.length - 1));
    assert.deepEqual(entries(out).map(({ level, event }) => [level, event]), [
      ["debug", "d"],
      ["info", "Distributor Notification"],
    ]);
    assert.deepEqual(entries(err).map(({ level, event, details }) => [level, event, details]), [
      ["warn", "w", ["a\nb"]],
      ["error", "e", [{ name: "Error", message: "boom" }]],
    ]);
  });

  it("keeps the book's words in the human format", () => {
    const { log, out } = captured({ format: "human" });
    log.info("onCreate", "127.0.0.1", 50123);
    assert.deepEqual(out, ["onCreate 127.0.0.1 50123\n"]);
  });

  it("writes at most N lines per event per window, then one line saying how many it held back", async () => {
    const { log, err, entries } = captured({ rateLimit: { lines: 5, windowMs: 300 } });
    for (let i = 0; i < 1000; i++) log.warn("peer-not-reading", i);
    log.warn("another event", "still written");
    assert.deepEqual(entries(err).map((entry) => entry.details[0]), [0, 1, 2, 3, 4, "still written"]);

    await delay(500);
    const report = entries(err).filter((entry) => entry.event === SUPPRESSED);
    assert.deepEqual(report.map((entry) => [entry.level, entry.details[0]]), [
      ["warn", { event: "peer-not-reading", lines: 995, withinMs: 300 }],
    ]);

    log.warn("peer-not-reading", "a new window");
    assert.equal(entries(err).at(-1).details[0], "a new window");
    assert.equal(err.length, 8);
  });

  it("limits info lines too (peers cause them), but never debug lines", () => {
    const { log, out, entries } = captured({ level: "debug", rateLimit: { lines: 3, windowMs: 60_000 } });
    for (let i = 0; i < 100; i++) log.info("onRead", i);
    for (let i = 0; i < 100; i++) log.debug("Distributor Notification", i);
    const counted = entries(out);
    assert.equal(counted.filter((entry) => entry.event === "onRead").length, 3);
    assert.equal(counted.filter((entry) => entry.event === "Distributor Notification").length, 100);
  });

  it("writes every line when the limit is turned off", () => {
    const { log, err } = captured({ rateLimit: false });
    for (let i = 0; i < 500; i++) log.warn("bad frame from", i);
    assert.equal(err.length, 500);
  });
});
