/**
 * Failure handling that never loses a request silently (issue: fail fast, graceful stop, distributor away):
 * real processes, real faults.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BookPeer, registration } from "./support/book-peer.ts";
import { answer, startBookService } from "./support/book-service.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, startSystem, type System, waitForInstances } from "./support/system.ts";

const STATUS = "/_pilcrow/status";

async function gatewayInFlight(system: System): Promise<number> {
  return (await call(system, "GET", STATUS)).body.inFlight;
}

/** Requests from `workers` loops until `stop` is set; each status code (or "hung") is counted. */
function steadyLoad(system: System, workers: number, request: (i: number) => [string, string, unknown?]) {
  const statuses = new Map<number | string, number>();
  let sent = 0;
  let stopped = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped) {
      const [method, path, body] = request(sent++);
      const outcome = await Promise.race([
        call(system, method, path, body).then((response) => response.status),
        delay(5000).then(() => "hung"),
      ]);
      statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
    }
  });
  return {
    statuses,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { sent, statuses };
    },
  };
}

describe("failover", () => {
  it("restarts two goods instances one after the other under steady load with no 5xx", async () => {
    const system = await startSystem({ services: ["goods"], gateArgs: ["--status"] });
    const instances: RunningProcess[] = [system.services.get("goods")!];
    try {
      const from = system.gate.entries.length;
      instances.push(await system.startService("goods"));
      await waitForInstances(system, 1, from);
      const load = steadyLoad(system, 4, (i) =>
        i % 2 === 0
          ? ["GET", "/goods"]
          : ["POST", "/goods", { name: `g${i}`, category: "rolling", price: i, description: "d" }]);
      await delay(300);
      for (let index = 0; index < instances.length; index++) {
        const old = instances[index];
        const port = old.port;
        assert.equal(await old.stop(10_000), 0, `goods on ${port} stops cleanly`);
        const back = system.gate.entries.length;
        instances[index] = await system.startService("goods", port);
        await waitForInstances(system, 1, back);
        await delay(300);
      }
      const { sent, statuses } = await load.stop();
      const bad = [...statuses].filter(([status]) => status === "hung" || Number(status) >= 500);
      assert.deepEqual(bad, [], `no 5xx and nothing hung among ${sent}: ${JSON.stringify([...statuses])}`);
      assert.ok(sent > 50, `a steady load (${sent} requests)`);
      assert.equal(await gatewayInFlight(system), 0, "the gateway's pending table is empty");
    } finally {
      await stopAll(instances);
      await system.stop();
    }
  });

  it("stops at once when it has left and nothing is in flight, though a book gateway never closes its connection", async () => {
    const distributor = await startProcess("distributor.ts", ["0"]);
    let goods: RunningProcess | undefined;
    let bookGateway: BookPeer | undefined;
    try {
      goods = await startProcess("goods.ts", ["0", "--distributor", `127.0.0.1:${distributor.port}`]);
      // The book's gateway has used its connection (with no deadline field and no pings), and keeps it open.
      bookGateway = await BookPeer.connect(goods.port);
      bookGateway.send({ uri: "/goods", method: "GET", params: { key: 7 } });
      await bookGateway.waitFor((packet) => packet.key === 7);
      const stopping = Date.now();
      assert.equal(await goods.stop(10_000), 0);
      const stopMs = Date.now() - stopping;
      assert.ok(stopMs < 1000, `stopped in ${stopMs} ms (the drain allows 5000)`);
      assert.ok(!goods.entries.some((entry) => entry.event === "drain timeout"), "no drain timeout");
    } finally {
      bookGateway?.close();
      await stopAll([goods, distributor]);
    }
  });

  it("answers requests in flight on a connection that drops within 100 ms: POST with 502, GET retried elsewhere", async () => {
    const system = await startSystem({ services: [], gateArgs: ["--status", "--timeout", "10000"] });
    // Two book-style instances of one route: one holds every request, the other answers at once.
    const holding = await startBookService(() => {});
    const answering = await startBookService((packet, socket) => socket.write(answer(packet, { from: "answering" })));
    const nodes: BookPeer[] = [];
    try {
      const from = system.gate.entries.length;
      for (const service of [holding, answering]) {
        const node = await BookPeer.connect(system.distributor.port);
        node.send(registration("slow", service.port, ["GET/slow", "POST/slow"]));
        nodes.push(node);
      }
      await waitForInstances(system, 2, from);
      const requests = Array.from({ length: 8 }, (_, i) => {
        const method = i < 4 ? "GET" : "POST";
        return call(system, method, "/slow", method === "POST" ? { i } : undefined).then((response) => ({
          method,
          response,
          at: Date.now(),
        }));
      });
      await eventually(() => holding.received.length >= 4 || undefined, 5000, "requests held");
      await delay(100);
      const crashedAt = Date.now();
      holding.crash();
      const results = await Promise.all(requests);
      for (const { method, response, at } of results) {
        const slowest = at - crashedAt;
        assert.ok(slowest < 100 + 50, `${method} answered ${slowest} ms after the crash`);
        if (method === "GET") assert.deepEqual([response.status, response.body.from], [200, "answering"]);
        else assert.ok(response.status === 200 || response.status === 502, `POST: ${response.status}`);
      }
      const lostPosts = results.filter(({ method, response }) => method === "POST" && response.status === 502);
      assert.ok(lostPosts.length >= 1, "the POSTs held by the crashed instance are answered 502, not retried");
      assert.equal(await gatewayInFlight(system), 0, "the gateway's pending table is empty");
    } finally {
      for (const node of nodes) node.close();
      await holding.close();
      await answering.close();
      await system.stop();
    }
  });

  it("keeps routing while the distributor is away, and has the whole table back within 3 s of its return", async () => {
    const system = await startSystem({ services: ["goods"] });
    let members: RunningProcess | undefined;
    let distributor = system.distributor;
    try {
      const port = distributor.port;
      distributor.signal("SIGKILL");
      await distributor.exited;
      for (let i = 0; i < 10; i++) {
        const response = await call(system, "GET", "/goods");
        assert.equal(response.status, 200, "routing goes on without the distributor");
      }
      // A node that starts while the distributor is away registers once it is back.
      members = await startProcess("members.ts", ["0", "--distributor", `127.0.0.1:${port}`]);
      assert.equal((await call(system, "GET", "/members?username=a&password=b")).status, 404);
      distributor = await startProcess("distributor.ts", [String(port)]);
      const back = Date.now();
      let status = 0;
      while (Date.now() - back < 3000) {
        status = (await call(system, "GET", "/members?username=a&password=b")).status;
        if (status === 200) break;
        await delay(50);
      }
      assert.equal(status, 200, "members is routed within 3 s of the distributor's return");
      assert.equal((await call(system, "GET", "/goods")).status, 200);
    } finally {
      await stopAll([members, distributor]);
      await system.stop();
    }
  });
});
