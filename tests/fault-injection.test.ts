/**
 * Short fault-injection runs on the runtime under test: nothing hangs and no acknowledged write is lost, on the
 * embedded SQLite store and on MySQL, on the distributor's mesh and on NATS; and clients that retry every failed POST with its Idempotency-Key end with
 * exactly one row per key (0 duplicates, 0 lost).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FaultOptions, formatReport, runFaultInjection } from "./support/fault-injection.ts";
import { skipWithoutMysql } from "./support/mysql.ts";
import { skipWithoutNats } from "./support/private-nats.ts";

async function run(options: Omit<FaultOptions, "durationMs" | "seed">) {
  const report = await runFaultInjection({ durationMs: 12_000, seed: 7, ...options });
  console.log(formatReport(report));
  assert.ok(report.faults.length >= 4, `faults injected: ${report.faults.join("; ")}`);
  assert.ok(report.succeeded > 100, "the load went on");
  assert.equal(report.hung, 0, "no request hung");
  assert.equal(report.acknowledgedWritesLost, 0, "no acknowledged write lost");
  assert.equal(report.gatewayInFlightAfter, 0, "the gateway's pending table is empty");
  if (options.retry) {
    // Else the run proves nothing: some requests were cut off mid-way, and resent by the gateway or the client.
    assert.ok(report.connectionsLost + report.retries > 0, "some requests were lost mid-way and sent again");
    assert.equal(report.gaveUp, 0, "every client got its POST done");
    assert.equal(report.duplicates, 0, "no key has two rows");
    assert.equal(report.lost, 0, "every key has its row");
  }
}

describe("fault injection", () => {
  it("on the embedded SQLite store: 0 hung, 0 acknowledged writes lost", { timeout: 120_000 }, () => run({}));

  it("clients retrying each failed POST with its Idempotency-Key: one row per key, 0 duplicates, 0 lost", {
    timeout: 150_000,
  }, () => run({ retry: true }));

  it("on the NATS mesh, its server stopped and frozen too: 0 hung, 0 acknowledged writes lost", {
    timeout: 120_000,
    skip: skipWithoutNats,
  }, () => run({ mesh: "nats" }));

  it("on MySQL, clients retrying with Idempotency-Key: 0 lost, 0 duplicates", {
    timeout: 150_000,
    skip: skipWithoutMysql,
  }, () => run({ store: "mysql", retry: true }));
});
