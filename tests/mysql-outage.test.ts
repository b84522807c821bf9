/**
 * The whole system on a private MariaDB that the suite stops, freezes and starts again under it: requests
 * fail fast with "Database Error" while the database is away or hung, nothing exits, the pool reconnects
 * when it is back, dates are right whatever the time zones, and the services stop cleanly.
 */
import mysql from "mysql2/promise";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type PrivateMariadb, skipWithoutMariadb, startPrivateMariadb } from "./support/private-mariadb.ts";
import { delay } from "./support/processes.ts";
import {
  call,
  type Json,
  runSpecFlow,
  SPEC_FLOW,
  startSystem,
  type System,
  waitForInstances,
} from "./support/system.ts";

/** A request during an outage must be answered within this (the store's deadline is 2000 ms). */
const OUTAGE_ANSWER_MS = 2500;
/** After the database is back, requests must succeed again within this. */
const RECOVERY_MS = 10_000;
const DATABASE = "pilcrow_outage";
/** Bun's default per-test timeout is 5 s; these tests start processes and wait for a database. */
const SLOW = { timeout: 60_000 };

interface TimedResponse {
  status: number;
  body: Json;
  ms: number;
}

async function timedCall(system: System, method: string, path: string, body?: unknown): Promise<TimedResponse> {
  const started = performance.now();
  const response = await call(system, method, path, body);
  return { ...response, ms: Math.round(performance.now() - started) };
}

/** The requests of every service that need the database, with params that are valid. */
const DATABASE_REQUESTS: [string, string, unknown?][] = [
  ["GET", "/goods"],
  ["POST", "/goods", { name: "during outage", category: "outage", price: 1, description: "d" }],
  ["DELETE", "/goods?id=999"],
  ["POST", "/members", { username: "outage_user", password: "pw" }],
  ["GET", "/members?username=test_account&password=1234"],
  ["DELETE", "/members?username=nobody"],
  ["POST", "/purchases", { userid: 1, goodsid: 2 }],
  ["GET", "/purchases?userid=1"],
];

describe("system on a MariaDB that goes away", { skip: skipWithoutMariadb }, () => {
  let server: PrivateMariadb;
  let system: System;

  /** One statement on a connection of its own (the server restarts under the suite), dates read as UTC. */
  async function query<T>(sql: string, values: unknown[] = []): Promise<T> {
    const connection = await mysql.createConnection({ uri: server.url(DATABASE), timezone: "Z" });
    try {
      const [rows] = await connection.query(sql, values);
      return rows as T;
    } finally {
      await connection.end();
    }
  }

  function expectDatabaseError(what: string, method: string, path: string, response: TimedResponse): void {
    const label = `${what}: ${method} ${path} → ${response.status} ${
      JSON.stringify(response.body)
    } in ${response.ms} ms`;
    assert.equal(response.status, 200, label);
    assert.equal(response.body.errorcode, 1, label);
    assert.equal(response.body.errormessage, "Database Error", label);
    assert.ok(response.ms < OUTAGE_ANSWER_MS, label);
  }

  /**
   * Every request of every service gets HTTP 200, errorcode 1, "Database Error", each within
   * OUTAGE_ANSWER_MS: one after another (when `oneByOne`), all at once, then 25 GET /goods at once (more than
   * a pool holds: queued requests have the same deadline). Returns the durations, for the log.
   */
  async function expectDatabaseErrors(what: string, oneByOne: boolean): Promise<string> {
    const report: string[] = [];
    if (oneByOne) {
      const durations: number[] = [];
      for (const [method, path, body] of DATABASE_REQUESTS) {
        const response = await timedCall(system, method, path, body);
        expectDatabaseError(`${what}, one by one`, method, path, response);
        durations.push(response.ms);
      }
      report.push(`one by one ${durations.join(", ")} ms`);
    }
    const together = await Promise.all(
      DATABASE_REQUESTS.map(([method, path, body]) => timedCall(system, method, path, body)),
    );
    together.forEach((response, i) =>
      expectDatabaseError(`${what}, together`, DATABASE_REQUESTS[i][0], DATABASE_REQUESTS[i][1], response)
    );
    report.push(`together ${together.map((response) => response.ms).join(", ")} ms`);
    const burst = await Promise.all(Array.from({ length: 25 }, () => timedCall(system, "GET", "/goods")));
    for (const response of burst) expectDatabaseError(`${what}, 25 at once`, "GET", "/goods", response);
    report.push(`25 GET /goods at once within ${Math.max(...burst.map((response) => response.ms))} ms`);
    assert.ok(system.all().every((process) => process.running), `${what}: no process exited`);
    return report.join("; ");
  }

  /** Polls each service until it answers from the database again; returns how long that took. */
  async function waitForRecovery(what: string): Promise<number> {
    const started = performance.now();
    const deadline = started + RECOVERY_MS;
    const probes: [string, string, (body: Json) => boolean][] = [
      ["GET", "/goods", (body) => body.errorcode === 0 && body.results.some((row: Json) => row.name === "kept")],
      ["GET", "/members?username=test_account&password=1234", (body) => body.errorcode === 0 && body.userid === 1],
      ["GET", "/purchases?userid=1", (body) => body.errorcode === 0 && body.results.some((row: Json) => row.id === 1)],
    ];
    for (const [method, path, recovered] of probes) {
      for (;;) {
        const response = await call(system, method, path);
        if (response.status === 200 && recovered(response.body)) break;
        if (performance.now() > deadline) {
          assert.fail(
            `${what}: ${method} ${path} still answers ${JSON.stringify(response.body)} after ${RECOVERY_MS} ms`,
          );
        }
        await delay(100);
      }
    }
    return Math.round(performance.now() - started);
  }

  before(async () => {
    server = await startPrivateMariadb({ timeZone: "+09:00" });
    console.log(`private MariaDB on port ${server.port}, data directory initialised in ${server.initMs} ms`);
    const admin = await mysql.createConnection({ uri: server.url() });
    await admin.query(`CREATE DATABASE ${DATABASE} DEFAULT CHARSET utf8mb4`);
    await admin.end();
    system = await startSystem({ env: { MYSQL_URL: server.url(DATABASE), TZ: "Asia/Seoul" } });
  }, SLOW);

  after(async () => {
    await system?.stop();
    await server?.destroy();
  }, SLOW);

  it(
    "answers the docs/protocol.md §6 flow with errorcode 0 and dates the purchase right, whatever the time zones",
    SLOW,
    async () => {
      const bodies = await runSpecFlow(system);
      assert.deepEqual(
        bodies.map((body) => [body.key, body.errorcode, body.errormessage]),
        SPEC_FLOW.map((_, key) => [key, 0, "success"]),
      );
      assert.equal(bodies[2].userid, 1);
      const [purchase] = bodies[7].results;
      assert.equal(bodies[7].results.length, 1);
      assert.match(purchase.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      const skew = Date.parse(purchase.date) - Date.now();
      assert.ok(
        Math.abs(skew) < 60_000,
        `the purchase is dated now, not ${skew / 3_600_000} hours off: ${purchase.date}`,
      );

      const [zone] = await query<{ zone: string }[]>("SELECT @@time_zone AS zone");
      assert.equal(zone.zone, "+09:00", "the server is really on +09:00");
      // The row holds the server's wall-clock time (+09:00), as the book's CURRENT_TIMESTAMP writes it.
      const rows = await query<{ date: string }[]>(
        "SELECT DATE_FORMAT(CONVERT_TZ(date, '+09:00', '+00:00'), '%Y-%m-%dT%H:%i:%s.000Z') AS date FROM purchases "
          + "WHERE id = ?",
        [purchase.id],
      );
      assert.deepEqual(rows.map((row) => row.date), [purchase.date], "the row holds the instant at +09:00");

      // A row for after the outage: goods 1 was deleted by the flow.
      const kept = await call(system, "POST", "/goods", { name: "kept", category: "c", price: 2, description: "d" });
      assert.equal(kept.body.errorcode, 0);
    },
  );

  it("answers Database Error within 2.5 s while MariaDB is stopped, and recovers when it is back", SLOW, async () => {
    await server.stop();
    console.log(`while stopped, Database Error: ${await expectDatabaseErrors("stopped", true)}`);

    await server.start();
    const recoveryMs = await waitForRecovery("restarted");
    console.log(`after restart: every service answered from the database within ${recoveryMs} ms`);
    assert.ok(system.all().every((process) => process.running), "no process was restarted");

    const added = await call(system, "POST", "/goods", { name: "after", category: "c", price: 3, description: "d" });
    assert.equal(added.body.errorcode, 0);
    const names = (await call(system, "GET", "/goods")).body.results.map((row: Json) => row.name);
    assert.ok(names.includes("kept") && names.includes("after"), JSON.stringify(names));
  });

  it(
    "answers Database Error within 2.5 s while MariaDB hangs (SIGSTOP), and recovers after SIGCONT",
    SLOW,
    async () => {
      server.freeze();
      try {
        console.log(`while frozen, Database Error: ${await expectDatabaseErrors("frozen", false)}`);
      } finally {
        server.thaw();
      }
      const recoveryMs = await waitForRecovery("thawed");
      console.log(`after SIGCONT: every service answered from the database within ${recoveryMs} ms`);
      assert.ok(system.all().every((process) => process.running), "no process was restarted");
    },
  );

  // A statement whose deadline passed before it got a connection must never run later. Only a statement
  // already sent when the deadline passed may be in doubt: at most one per pool connection (10).
  it("does not carry out later a write it answered with Database Error while MariaDB hung", SLOW, async () => {
    server.freeze();
    let answers: { body: Json }[];
    try {
      answers = await Promise.all(
        Array.from(
          { length: 30 },
          (_, i) => call(system, "POST", "/goods", { name: `late ${i}`, category: "late", price: i, description: "d" }),
        ),
      );
    } finally {
      server.thaw();
    }
    assert.ok(answers.every((answer) => answer.body.errormessage === "Database Error"), JSON.stringify(answers));
    await waitForRecovery("thawed");
    await delay(2000);
    const rows = await query<{ name: string }[]>("SELECT name FROM goods WHERE category = 'late'");
    assert.ok(rows.length <= 10, `${rows.length} of 30 refused writes were carried out after the thaw`);
  });

  it("stops every service with exit code 0 within 3 s on SIGTERM (the pool is closed)", SLOW, async () => {
    for (const [name, service] of system.services) {
      const started = performance.now();
      const code = await service.stop(5000);
      const ms = Math.round(performance.now() - started);
      assert.equal(code, 0, `${name} exited with ${code} after ${ms} ms:\n${service.output.slice(-10).join("\n")}`);
      assert.ok(ms < 3000, `${name} took ${ms} ms to stop`);
      assert.ok(
        service.entries.some((entry) => entry.event === "stopping"),
        `${name} logged its stop:\n${service.output.slice(-10).join("\n")}`,
      );
    }
  });

  // mysql2's pool.end() waits for a query the hung server never answers: closing must not.
  it("stops with exit code 0 within 3 s on SIGTERM even while MariaDB hangs", SLOW, async () => {
    const from = system.gate.entries.length;
    const goods = await system.startService("goods");
    await waitForInstances(system, 1, from);
    assert.equal((await call(system, "GET", "/goods")).body.errorcode, 0);
    server.freeze();
    try {
      const answer = await timedCall(system, "GET", "/goods");
      assert.equal(answer.body.errormessage, "Database Error");
      const started = performance.now();
      const code = await goods.stop(4000);
      const ms = Math.round(performance.now() - started);
      assert.equal(code, 0, `exited with ${code} after ${ms} ms (killed when SIGTERM did not stop it)`);
      assert.ok(ms < 3000, `took ${ms} ms to stop`);
    } finally {
      server.thaw();
    }
  });
});
