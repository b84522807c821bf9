/** A short fault-injection run on the runtime under test: nothing hangs and no acknowledged write is lost. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatReport, runFaultInjection } from "./support/fault-injection.ts";
import { skipWithoutMysql } from "./support/mysql.ts";

describe("fault injection", { skip: skipWithoutMysql }, () => {
  it("kills, freezes and restarts instances and the distributor under load: 0 hung, 0 acknowledged writes lost", {
    timeout: 120_000,
  }, async () => {
    const report = await runFaultInjection({ durationMs: 12_000, seed: 7 });
    console.log(formatReport(report));
    assert.ok(report.faults.length >= 4, `faults injected: ${report.faults.join("; ")}`);
    assert.ok(report.succeeded > 100, "the load went on");
    assert.equal(report.hung, 0, "no request hung");
    assert.equal(report.acknowledgedWritesLost, 0, "no acknowledged write lost");
    assert.equal(report.gatewayInFlightAfter, 0, "the gateway's pending table is empty");
  });
});
