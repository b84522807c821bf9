/**
 * Idempotency keys end to end (docs/protocol.md §9), real processes: a POST with an Idempotency-Key is done once
 * per key and route within the window — a retry, on another instance sharing the SQLite file or the MySQL
 * database, or after the instance died between its write and its answer, gets the first answer and adds no row;
 * the same key with another body is 422; a malformed key is 400; book-protocol services cannot honour keys.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BookPeer, registration } from "./support/book-peer.ts";
import { answer, type BookService, startBookService } from "./support/book-service.ts";
import { createTestDatabase, skipWithoutMysql, type TestDatabase } from "./support/mysql.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, type Json, startSystem, type System, waitForInstances } from "./support/system.ts";

let serial = 0;
/** A fresh key and goods for each request of a test. */
function fresh(label: string) {
  const n = `${label}-${process.pid}-${++serial}`;
  return { key: `key-${n}`, body: { name: n, category: "idempotency", price: serial, description: "d" } };
}

function post(system: System, body: unknown, key?: string): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key !== undefined) headers["idempotency-key"] = key;
  return call(system, "POST", "/goods", body, headers);
}

/** Rows named `name`, counted from the whole list (GET /goods answers "no data" for an empty one). */
async function rowsNamed(system: System, name: string): Promise<number> {
  const { body } = await call(system, "GET", "/goods");
  return (body.results ?? []).filter((row: { name: string }) => row.name === name).length;
}

/** An HTTP/1.1 request written by hand, for header values fetch refuses to send; resolves with the status. */
function rawStatus(port: number, headerValue: Uint8Array | string): Promise<number> {
  const body = JSON.stringify(fresh("raw").body);
  const head = `POST /goods HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${body.length}\r\nConnection: close\r\nIdempotency-Key: `;
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" }, () => {
      socket.write(head);
      socket.write(headerValue);
      socket.write(`\r\n\r\n${body}`);
    });
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (status) {
        resolve(Number(status[1]));
        socket.destroy();
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`no status line: ${JSON.stringify(text.slice(0, 200))}`)));
  });
}

describe("Idempotency-Key on the embedded store (SQLite), two goods instances on one data directory", () => {
  let system: System;
  before(async () => {
    system = await startSystem({ services: ["goods"] });
    const from = system.gate.entries.length;
    await system.startService("goods");
    await waitForInstances(system, 1, from);
  });
  after(() => system.stop());

  it("a retry with the same key, at the other instance, gets the same answer and adds no row", async () => {
    const { key, body } = fresh("twice");
    const first = await post(system, body, key);
    // Round robin: the retry goes to the other instance, which shares the SQLite file.
    const second = await post(system, body, key);
    assert.equal(first.status, 200);
    assert.equal(first.body.errorcode, 0, JSON.stringify(first.body));
    assert.deepEqual({ ...second, body: { ...second.body, key: 0 } }, { ...first, body: { ...first.body, key: 0 } });
    assert.equal(await rowsNamed(system, body.name), 1, "exactly one row");
  });

  it("without a key, two POSTs are two rows, as before", async () => {
    const { body } = fresh("nokey");
    assert.equal((await post(system, body)).body.errorcode, 0);
    assert.equal((await post(system, body)).body.errorcode, 0);
    assert.equal(await rowsNamed(system, body.name), 2);
  });

  it("the same key with another body is refused with 422, and nothing is written", async () => {
    const { key, body } = fresh("reuse");
    assert.equal((await post(system, body, key)).body.errorcode, 0);
    for (let attempt = 0; attempt < 2; attempt++) { // once at each instance
      const other = await post(system, { ...body, price: body.price + 1 }, key);
      assert.equal(other.status, 422, JSON.stringify(other.body));
      assert.equal(other.body.errorcode, 1);
      assert.match(other.body.errormessage, /Idempotency-Key was used with another request/);
    }
    assert.equal(await rowsNamed(system, body.name), 1);
  });

  it("the same key on another route is another key", async () => {
    const { key, body } = fresh("route");
    assert.equal((await post(system, body, key)).body.errorcode, 0);
    const gone = await call(system, "DELETE", `/goods?id=999999`, undefined);
    assert.equal(gone.status, 200);
    const deleted = await fetch(`${system.url}/goods?id=999999`, {
      method: "DELETE",
      headers: { "idempotency-key": key },
    });
    assert.equal(deleted.status, 200, "not refused as reused: DELETE/goods is another route");
  });

  it("a GET with a key is answered as without one", async () => {
    const response = await fetch(`${system.url}/goods`, { headers: { "idempotency-key": "any-key" } });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).errorcode, 0);
  });

  it("a malformed key is 400 with a clear problem: empty, 300 characters, control characters, non-ASCII", async () => {
    const port = Number(new URL(system.url).port);
    const cases: [string, string | Uint8Array][] = [
      ["empty", ""],
      ["empty quoted", "\"\""],
      ["300 characters", "k".repeat(300)],
      ["a control character", "abc\x01def"],
      ["non-ASCII", new TextEncoder().encode("clé-é")],
    ];
    for (const [what, value] of cases) assert.equal(await rawStatus(port, value), 400, what);
    const response = await fetch(`${system.url}/goods`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "k".repeat(256) },
      body: JSON.stringify(fresh("long").body),
    });
    assert.equal(response.status, 400);
    assert.match((await response.json()).errormessage, /malformed Idempotency-Key/);
    // 255 characters, and a quoted structured-field string, are keys.
    assert.equal((await post(system, fresh("max").body, "k".repeat(255) + `${serial}`.slice(0, 0))).status, 200);
    const quoted = fresh("quoted");
    assert.equal((await post(system, quoted.body, `"${quoted.key} \\"q\\""`)).status, 200);
    assert.equal((await post(system, quoted.body, `"${quoted.key} \\"q\\""`)).status, 200, "its retry");
    assert.equal(await rowsNamed(system, quoted.body.name), 1);
  });

  it("a key is one structured-field string or one bare token: a list, the header twice, a broken quote are 400", async () => {
    const port = Number(new URL(system.url).port);
    const cases: [string, string][] = [
      ["a list of strings", `"k2", "k3"`],
      ["a list of bare keys", "k2, k3"],
      ["the header twice", "k4\r\nIdempotency-Key: k5"],
      ["the same header twice", "k6\r\nIdempotency-Key: k6"],
      ["a missing closing quote", `"abc`],
      ["a missing opening quote", `abc"`],
      ["text after the string", `"abc"def`],
      ["parameters", `"abc";expires=1`],
      ["an unescaped quote inside", `"ab"c"`],
      ["a stray backslash inside", `"ab\\c"`],
      ["a bare key with a space", "abc def"],
      ["a bare key with a quote", `abc"def"`],
    ];
    for (const [what, value] of cases) assert.equal(await rawStatus(port, value), 400, what);
    const response = await fetch(`${system.url}/goods`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": `"k2", "k3"` },
      body: JSON.stringify(fresh("list").body),
    });
    assert.equal(response.status, 400);
    assert.match((await response.json()).errormessage, /malformed Idempotency-Key: send one key .* not a list/);
  });

  it("a bare key (a UUID, as many clients send it) is the same key as its quoted form", async () => {
    const { body } = fresh("bare");
    const uuid = randomUUID().replace(/^./, "8"); // a digit first: not a strict sf-token, still taken
    const bare = await post(system, body, uuid);
    assert.equal(bare.status, 200, JSON.stringify(bare.body));
    assert.equal(bare.body.errorcode, 0);
    assert.equal((await post(system, body, `"${uuid}"`)).status, 200);
    assert.equal((await post(system, { ...body, price: 0 }, `"${uuid}"`)).status, 422, "one key, quoted or not");
    assert.equal(await rowsNamed(system, body.name), 1);
  });
});

describe("Idempotency-Key when an instance dies between its write and its answer", () => {
  let system: System;
  const crashers: RunningProcess[] = [];
  before(async () => {
    system = await startSystem({ services: ["goods"] });
  });
  after(async () => {
    await stopAll(crashers);
    await system.stop();
  });

  async function startCrasher(marker: string): Promise<RunningProcess> {
    const from = system.gate.entries.length;
    const crasher = await startProcess(
      "tests/support/crash-goods-service.ts",
      ["0", "--distributor", `127.0.0.1:${system.distributor.port}`, "--data-dir", system.dataDir],
      { env: { PILCROW_TEST_CRASH_MARKER: join(system.dataDir, marker) } },
    );
    crashers.push(crasher);
    await waitForInstances(system, 1, from);
    return crasher;
  }

  it("the client's retry after a 502 succeeds with exactly one row, on a new process (keys survive restarts)", async () => {
    const crasher = await startCrasher("crash-1");
    // Only the crashing instance serves goods now.
    await system.services.get("goods")!.stop();
    const { key, body } = fresh("crash");
    const first = await post(system, body, key);
    assert.equal(first.status, 502, JSON.stringify(first.body));
    await crasher.exited;
    const from = system.gate.entries.length;
    system.services.set("goods", await system.startService("goods"));
    await waitForInstances(system, 1, from);
    assert.equal(await rowsNamed(system, body.name), 1, "the write happened before the crash");
    const retry = await post(system, body, key);
    assert.equal(retry.status, 200);
    assert.equal(retry.body.errorcode, 0, JSON.stringify(retry.body));
    assert.equal(await rowsNamed(system, body.name), 1, "and the retry did not write it again");
  });

  it("the gateway resends a keyed POST whose connection was lost to another Pilcrow instance: 200, one row", async () => {
    const crasher = await startCrasher("crash-2");
    const keys = [fresh("resend"), fresh("resend")];
    // Round robin: one of two consecutive requests reaches the crashing instance.
    for (const { key, body } of keys) {
      const response = await post(system, body, key);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.errorcode, 0);
    }
    await eventually(() => crasher.running ? undefined : true, 5000, "the crash");
    for (const { body } of keys) assert.equal(await rowsNamed(system, body.name), 1, body.name);
  });
});

describe("a typed call with an idempotency key", () => {
  let system: System;
  let shop: RunningProcess;
  before(async () => {
    system = await startSystem({ services: ["goods"] });
    const from = system.gate.entries.length;
    shop = await startProcess("tests/support/shop-service.ts", [
      "0",
      "--distributor",
      `127.0.0.1:${system.distributor.port}`,
    ]);
    await waitForInstances(system, 1, from);
  });
  after(async () => {
    await stopAll([shop]);
    await system.stop();
  });

  it("is done once by the service called, however often the caller makes it; another body is refused", async () => {
    const { key, body } = fresh("call");
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await call(system, "POST", "/shop/goods", { name: body.name, orderKey: key });
      assert.equal(answer.body.errorcode, 0, JSON.stringify(answer.body));
    }
    assert.equal(await rowsNamed(system, body.name), 1);
    const other = await call(system, "POST", "/shop/goods", { name: `${body.name}-other`, orderKey: key });
    assert.equal(other.body.errorcode, 1);
    assert.match(other.body.errormessage, /Idempotency-Key was used with another request/);
  });
});

describe("Idempotency-Key expiry", () => {
  let system: System;
  before(async () => {
    system = await startSystem({ services: ["goods"], env: { PILCROW_IDEMPOTENCY_WINDOW_MS: "1500" } });
  });
  after(() => system.stop());

  it("a key is remembered for the window, then used afresh", async () => {
    const { key, body } = fresh("expiry");
    assert.equal((await post(system, body, key)).body.errorcode, 0);
    assert.equal((await post(system, body, key)).body.errorcode, 0);
    assert.equal(await rowsNamed(system, body.name), 1);
    await delay(2000);
    assert.equal((await post(system, body, key)).body.errorcode, 0);
    assert.equal(await rowsNamed(system, body.name), 2, "expired: done again");
    const other = await post(system, { ...body, price: 0 }, key);
    assert.equal(other.status, 422, "and remembered again, with its new body");
  });
});

describe("the idempotency window is bounded (1 s to 30 days)", () => {
  /** goods with the window given by the flag or the variable, and a distributor that is never there. */
  function goodsWith(how: "flag" | "variable", value: string, waitForListen: boolean): Promise<RunningProcess> {
    const flag = how === "flag" ? [`--idempotency-window=${value}`] : [];
    const env = how === "variable" ? { PILCROW_IDEMPOTENCY_WINDOW_MS: value } : {};
    return startProcess("goods.ts", ["0", "--distributor", "127.0.0.1:1", ...flag], { waitForListen, env });
  }

  it("refuses 0, negatives, non-numbers, empty and huge windows, flag or variable, as a usage error (exit 2)", async () => {
    const refused = [
      "0",
      "999",
      "-1000",
      "-1",
      "soon",
      "1e4",
      "60s",
      "",
      " 5000",
      "2592000001",
      "99999999999999999999",
    ];
    const runs = (["flag", "variable"] as const).flatMap((how) => refused.map((value) => ({ how, value })));
    // Two at a time: each is a process start, on a machine that may have few cores.
    for (let i = 0; i < runs.length; i += 2) {
      await Promise.all(
        runs.slice(i, i + 2).map(async ({ how, value }) => {
          const service = await goodsWith(how, value, false);
          let timer: ReturnType<typeof setTimeout> | undefined;
          const code = await Promise.race([
            service.exited,
            new Promise((resolve) => timer = setTimeout(() => resolve("still running after 20 s"), 20_000)),
          ]);
          clearTimeout(timer);
          await service.stop();
          const what = `${how} ${JSON.stringify(value)}`;
          const output = service.output.join("\n");
          assert.equal(code, 2, `${what}: ${output}`);
          assert.ok(
            output.includes(
              "--idempotency-window (or PILCROW_IDEMPOTENCY_WINDOW_MS) must be a whole number of milliseconds from "
                + `1000 to 2592000000, not ${JSON.stringify(value)}`,
            ),
            `${what}: ${output}`,
          );
        }),
      );
    }
  });

  it("takes both ends of the range", async () => {
    await (await goodsWith("flag", "1000", true)).stop();
    await (await goodsWith("variable", "2592000000", true)).stop();
  });
});

describe("Idempotency-Key on MySQL, two goods instances", { skip: skipWithoutMysql }, () => {
  let system: System;
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase("idempotency");
    system = await startSystem({ services: ["goods"], env: { MYSQL_URL: database.url } });
    const from = system.gate.entries.length;
    await system.startService("goods");
    await waitForInstances(system, 1, from);
  });
  after(async () => {
    await system.stop();
    await database.drop();
  });

  it("same key twice (one at each instance), and at once: one row, the same answer; another body: 422", async () => {
    const { key, body } = fresh("mysql");
    const first = await post(system, body, key);
    const second = await post(system, body, key);
    assert.equal(first.body.errorcode, 0, JSON.stringify(first.body));
    assert.equal(second.body.errorcode, 0, JSON.stringify(second.body));
    const together = fresh("mysql-together");
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(system, together.body, together.key)));
    for (const response of answers) assert.equal(response.body.errorcode, 0, JSON.stringify(response.body));
    const rows = await database.query<{ name: string; n: number }[]>(
      "SELECT name, COUNT(*) AS n FROM goods WHERE name IN (?, ?) GROUP BY name",
      [body.name, together.body.name],
    );
    assert.deepEqual(rows.map((row) => Number(row.n)), [1, 1]);
    assert.equal((await post(system, { ...body, price: -1 }, key)).status, 422);
    const keys = await database.query<{ n: number }[]>("SELECT COUNT(*) AS n FROM pilcrow_idempotency");
    assert.equal(Number(keys[0].n), 2);
  });
});

describe("book-protocol services cannot honour Idempotency-Key", () => {
  let system: System;
  let services: BookService[] = [];
  let peers: BookPeer[] = [];
  before(async () => {
    system = await startSystem({ services: [] });
  });
  after(async () => {
    for (const peer of peers) peer.socket.destroy();
    await Promise.all(services.map((service) => service.close()));
    await system.stop();
  });

  it("the key is passed on and ignored (a retry is done again); a lost POST is never resent to another", async () => {
    let crashes = 1;
    const crashing = await startBookService((packet, socket) => {
      if (crashes-- > 0) socket.destroy();
      else socket.write(answer(packet));
    });
    const steady = await startBookService((packet, socket) => socket.write(answer(packet)));
    services = [crashing, steady];
    const from = system.gate.entries.length;
    for (const service of services) {
      const peer = await BookPeer.connect(system.distributor.port);
      peer.send(registration("orders", service.port, ["POST/orders"]));
      peers.push(peer);
    }
    await waitForInstances(system, 2, from);
    const send = () =>
      call(system, "POST", "/orders", { item: 1 }, { "content-type": "application/json", "idempotency-key": "k1" });
    const statuses = [(await send()).status, (await send()).status, (await send()).status];
    assert.deepEqual(statuses.toSorted(), [200, 200, 502], "the POST lost with the crashing one is not resent");
    const received = [...crashing.received, ...steady.received];
    assert.equal(received.length, 3, "each POST reached one service once");
    assert.ok(received.every((packet) => packet.idempotencyKey === "k1"), "the key is in the packet, top level");
    assert.equal(steady.received.length + crashing.received.length - 1, 2, "a retry with the same key is done again");
  });
});
