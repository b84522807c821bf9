/**
 * The NATS server itself goes away (a private one, on a port of its own): while it is down the gateway answers at
 * once (503, never a hang), and when it returns every node is back by itself — gateway, services, the instances'
 * announcements — with no restart of any of them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skipWithoutNats, startPrivateNats } from "./support/private-nats.ts";
import { delay, eventually } from "./support/processes.ts";
import { call, newMeshName, startNatsSystem } from "./support/system.ts";

describe("NATS server restart", { skip: skipWithoutNats }, () => {
  it("routing goes on while the server restarts, and every node is back by itself", async () => {
    const nats = await startPrivateNats();
    const system = await startNatsSystem({
      services: ["goods", "members"],
      gateArgs: ["--heartbeat", "300", "--timeout", "2000"],
      nats: { url: nats.url, name: newMeshName() },
    });
    try {
      const before = await call(system, "GET", "/members?username=a&password=b");
      assert.equal(before.status, 200, JSON.stringify(before.body));
      await nats.stop();
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        const response = await call(system, "GET", "/goods");
        // The first request may leave before the gateway has seen its connection close: then it is lost on the
        // way (502, said so), never left hanging. From then on the gateway knows: no live instance, 503.
        const lostOnTheWay = i === 0 && response.status === 502 && /lost/.test(JSON.stringify(response.body));
        if (!lostOnTheWay) assert.equal(response.status, 503, JSON.stringify(response.body));
        assert.ok(Date.now() - started < 500, `answered in ${Date.now() - started} ms while NATS is down`);
        await delay(100);
      }
      await nats.restart();
      const backAt = Date.now();
      for (const path of ["/goods", "/members?username=a&password=b"]) {
        await eventually(async () => (await call(system, "GET", path)).status === 200 || undefined, 10_000, path);
      }
      console.log(`routable again ${Date.now() - backAt} ms after the server returned`);
      for (const node of system.all()) assert.ok(node.running, `${node.name} still runs`);
    } finally {
      await system.stop();
      await nats.destroy();
    }
  });
});
