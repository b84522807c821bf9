/** The whole system on the embedded store, as a black box: real processes, real HTTP and TCP (docs/protocol.md §4–§6). */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BookPeer, registration } from "./support/book-peer.ts";
import { answer, startBookService } from "./support/book-service.ts";
import { delay, type RunningProcess, startProcess, stopAll, testRuntime } from "./support/processes.ts";
import {
  call,
  type Json,
  type Mesh,
  runSpecFlow,
  startSystem,
  type System,
  uniformMesh,
  waitForInstances,
} from "./support/system.ts";

/**
 * The meshes this runner covers. Each runner takes its own runtime with native APIs and with node:net and
 * @hono/node-server forced, plus one mixed mesh, so that `npm test` (all three runners) covers the whole
 * matrix once: every runtime in every role, both TCP implementations, both HTTP servers.
 */
function meshes(): Mesh[] {
  const runtime = testRuntime();
  const own = uniformMesh(runtime);
  const forced: Mesh = { ...own, label: `all ${runtime}, node:net + @hono/node-server`, tcp: "node", http: "node" };
  const mixed: Record<string, Mesh> = {
    node: { label: "distributor deno, gate bun, services node", distributor: "deno", gate: "bun", services: "node" },
    bun: { label: "distributor bun, gate node, services deno", distributor: "bun", gate: "node", services: "deno" },
    deno: { label: "distributor node, gate deno, services bun", distributor: "node", gate: "deno", services: "bun" },
  };
  return runtime === "node" ? [own, mixed.node] : [own, forced, mixed[runtime]];
}

for (const mesh of meshes()) systemSuite(mesh);

function systemSuite(mesh: Mesh) {
  describe(`system on the embedded store (${mesh.label})`, () => {
    let system: System;
    before(async () => {
      system = await startSystem({ mesh, gateArgs: ["--timeout", "1000"] });
    });
    after(() => system?.stop());

    it("answers the docs/protocol.md §6 flow with exactly the book's bodies", async () => {
      const bodies = await runSpecFlow(system);
      const success = (key: number) => ({ key, errorcode: 0, errormessage: "success" });
      assert.deepEqual(bodies.slice(0, 2), [success(0), success(1)]);
      assert.deepEqual(bodies[2], { ...success(2), userid: 1 });
      assert.deepEqual(bodies[3], success(3));
      assert.deepEqual(bodies[4], {
        ...success(4),
        results: [{ id: 1, name: "test Goods", category: "tests", price: 1000, description: "test" }],
      });
      assert.deepEqual(bodies.slice(5, 7), [success(5), success(6)]);
      const { results, ...rest } = bodies[7];
      assert.deepEqual(rest, success(7));
      assert.equal(results.length, 1);
      assert.deepEqual({ id: results[0].id, goodsid: results[0].goodsid }, { id: 1, goodsid: 1 });
      assert.match(results[0].date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      assert.ok(Math.abs(Date.parse(results[0].date) - Date.now()) < 60_000, "the purchase is dated now");
    });

    it("gives Invalid Parameters for missing, null and wrong-typed params", async () => {
      const cases: [string, string, unknown?][] = [
        ["POST", "/goods", { name: "n", category: "c", description: "d" }],
        ["POST", "/goods", { name: "n", category: "c", price: "abc", description: "d" }],
        ["POST", "/goods", { name: null, category: "c", price: 1, description: "d" }],
        ["POST", "/goods", { name: "n", category: "c", price: 1.5, description: "d" }],
        ["POST", "/goods", { name: "n".repeat(129), category: "c", price: 1, description: "d" }],
        ["DELETE", "/goods?id=abc"],
        ["DELETE", "/goods"],
        ["POST", "/members", { username: "only" }],
        ["GET", "/members?username=only"],
        ["POST", "/purchases", { userid: "x", goodsid: 1 }],
        ["GET", "/purchases"],
        ["GET", "/purchases?userid=99999999999"],
      ];
      for (const [method, path, body] of cases) {
        const response = await call(system, method, path, body);
        assert.equal(response.status, 200, `${method} ${path}`);
        assert.equal(response.body.errorcode, 1, `${method} ${path} ${JSON.stringify(body)}`);
        assert.equal(response.body.errormessage, "Invalid Parameters", `${method} ${path} ${JSON.stringify(body)}`);
      }
    });

    it("refuses a wrong password, an unknown user and a duplicate username", async () => {
      const user = { username: "kim", password: "secret" };
      assert.equal((await call(system, "POST", "/members", user)).body.errorcode, 0);
      const duplicate = await call(system, "POST", "/members", { ...user, password: "other" });
      assert.deepEqual([duplicate.body.errorcode, duplicate.body.errormessage], [1, "duplicate username"]);
      for (const query of ["username=kim&password=wrong", "username=nobody&password=secret"]) {
        const login = await call(system, "GET", `/members?${query}`);
        assert.deepEqual([login.body.errorcode, login.body.errormessage], [1, "invalid password"]);
      }
      const login = await call(system, "GET", "/members?username=kim&password=secret");
      assert.equal(login.body.errorcode, 0);
      assert.equal(typeof login.body.userid, "number");
    });

    it("round-trips Korean text and ¶ through POST and GET, and accepts charset and form bodies", async () => {
      const goods = { name: "한글 상품 ¶ 1", category: "¶¶", price: 7, description: "설명¶\u00b6 끝 🎉" };
      const post = await call(system, "POST", "/goods", goods, { "content-type": "application/json; charset=utf-8" });
      assert.equal(post.body.errorcode, 0);
      const form = "name=%ED%8F%BC&category=form&price=3&description=%C2%B6";
      const posted = await call(system, "POST", "/goods", form, {
        "content-type": "application/x-www-form-urlencoded",
      });
      assert.equal(posted.body.errorcode, 0);
      const list = await call(system, "GET", "/goods");
      const names = list.body.results.map((row: Json) => row.name);
      assert.ok(
        list.body.results.some((row: Json) =>
          JSON.stringify({ ...row, id: undefined }) === JSON.stringify({ ...goods, id: undefined })
        ),
        JSON.stringify(list.body),
      );
      assert.ok(names.includes("폼"));
      assert.ok(list.body.results.some((row: Json) => row.description === "¶" && row.price === 3));
    });

    it("answers the gateway's own errors with proper statuses and JSON bodies", async () => {
      const expectations: [number, string, string, unknown?, Record<string, string>?][] = [
        [404, "GET", "/nothing-here"],
        [404, "PATCH", "/goods", {}],
        [404, "GET", "/goods/"],
        [400, "POST", "/goods", "{not json"],
        [400, "POST", "/goods", "[1,2,3]"],
        [400, "POST", "/goods", "\"text\""],
        [415, "POST", "/goods", "name=x", { "content-type": "text/plain" }],
        [413, "POST", "/goods", JSON.stringify({ name: "x".repeat(200_000) })],
      ];
      for (const [status, method, path, body, headers] of expectations) {
        const response = await call(system, method, path, body, headers);
        assert.equal(response.status, status, `${method} ${path} → ${JSON.stringify(response.body).slice(0, 200)}`);
        assert.equal(response.body.errorcode, 1);
        assert.equal(typeof response.body.errormessage, "string");
      }
      assert.ok(system.gate.running && system.all().every((process) => process.running), "nothing crashed");
    });

    it("calls a service written the book's way, and reassembles its reply split inside a multi-byte character", async () => {
      const service = await startBookService((packet, socket) => {
        const reply = Buffer.from(answer(packet, { echo: `안녕 ${packet.params.who}` }));
        const cut = reply.indexOf(Buffer.from("녕")) + 1;
        socket.write(reply.subarray(0, cut));
        setTimeout(() => socket.write(reply.subarray(cut)), 30);
      });
      const port = service.port;
      const node = await BookPeer.connect(system.distributor.port);
      const from = system.gate.entries.length;
      node.send(registration("book", port, ["GET/book"]));
      try {
        await waitForInstances(system, 1, from);
        const response = await call(system, "GET", "/book?who=세계");
        assert.equal(response.status, 200);
        assert.equal(response.body.echo, "안녕 세계");
        assert.equal(response.body.errorcode, 0);
      } finally {
        node.close();
        await service.close();
      }
    });
  });

  describe(`system failures (${mesh.label})`, () => {
    let system: System;
    before(async () => {
      system = await startSystem({ mesh, services: ["goods", "members"], gateArgs: ["--timeout", "800"] });
    });
    after(() => system?.stop());

    it("alternates strictly between two goods instances, survives losing one, and alternates again after its restart", async () => {
      const first = system.services.get("goods")!;
      const from = system.gate.entries.length;
      // The second instance on a store of its own (SQLite in memory), not the system's shared file: only the
      // instance that took the POST has a row, so GET /goods tells the instances apart.
      const second = await system.startService("goods", 0, ":memory:");
      await waitForInstances(system, 1, from);
      assert.equal(
        (await call(system, "POST", "/goods", { name: "n", category: "c", price: 1, description: "d" })).body.errorcode,
        0,
      );
      const pattern = async (count: number) => {
        const codes: number[] = [];
        for (let i = 0; i < count; i++) {
          const response = await call(system, "GET", "/goods");
          assert.equal(response.status, 200);
          codes.push(response.body.errorcode);
        }
        return codes;
      };
      const codes = await pattern(8);
      for (let i = 2; i < codes.length; i++) assert.equal(codes[i], codes[i - 2], `alternates: ${codes}`);
      assert.notEqual(codes[0], codes[1], `alternates: ${codes}`);

      // Kill the instance without the row while requests run: every answer must then be the survivor's.
      const firstHasRow = codes[0] === 0;
      const victim = firstHasRow ? second : first;
      const victimPort = victim.port;
      const load = (async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 40; i++) {
          const started = Date.now();
          const response = await call(system, "GET", "/goods");
          assert.ok(Date.now() - started < 2000, "no request hangs");
          statuses.push(response.status === 200 ? response.body.errorcode : response.status);
          await delay(5);
        }
        return statuses;
      })();
      await delay(40);
      victim.signal("SIGKILL");
      const statuses = await load;
      assert.deepEqual(statuses.filter((status) => status !== 0 && status !== 1), [], `all answered: ${statuses}`);
      assert.deepEqual(statuses.slice(-10), Array(10).fill(0), "only the survivor answers once the victim is gone");

      const back = system.gate.entries.length;
      await system.startService("goods", victimPort, victim === second ? ":memory:" : system.dataDir);
      await waitForInstances(system, 1, back);
      const after = await pattern(6);
      for (let i = 2; i < after.length; i++) assert.equal(after[i], after[i - 2], `alternates again: ${after}`);
      assert.notEqual(after[0], after[1], `alternates again: ${after}`);
    });

    it("answers 504 when a service hangs, and 503 when the route has no live instance", async () => {
      const members = system.services.get("members")!;
      members.signal("SIGSTOP");
      try {
        const started = Date.now();
        const hung = await call(system, "GET", "/members?username=a&password=b");
        assert.equal(hung.status, 504);
        assert.ok(Date.now() - started < 3000);
      } finally {
        members.signal("SIGCONT");
      }
      members.signal("SIGKILL");
      await members.exited;
      const deadline = Date.now() + 5000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await call(system, "GET", "/members?username=a&password=b")).status;
        if (status === 503) break;
        await delay(50);
      }
      assert.equal(status, 503);
      assert.ok(system.gate.running && system.distributor.running);
    });
  });
}

describe("a service of one's own", () => {
  it("runs the README's example service and calls it through the gateway", async () => {
    const system = await startSystem({ services: [] });
    let echo: RunningProcess | undefined;
    try {
      const from = system.gate.entries.length;
      echo = await startProcess("examples/echo.ts", ["0", "--distributor", `127.0.0.1:${system.distributor.port}`]);
      await waitForInstances(system, 1, from);
      const echoed = await call(system, "GET", "/echo?text=%EC%95%88%EB%85%95");
      assert.deepEqual(echoed.body, { key: 0, errorcode: 0, errormessage: "success", echo: "안녕" });
      assert.deepEqual((await call(system, "GET", "/echo?text=")).body, {
        key: 1,
        errorcode: 1,
        errormessage: "nothing to echo",
      });
      assert.equal((await call(system, "GET", "/echo")).body.errormessage, "Invalid Parameters");
    } finally {
      await stopAll([echo]);
      await system.stop();
    }
  });
});
