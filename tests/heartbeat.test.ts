/**
 * Half-open connections: a process frozen with SIGSTOP keeps its sockets open (the kernel still answers for
 * it), as a frozen VM or a pulled cable would. Heartbeats must find it within a bounded time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, startSystem, type System, waitForInstances } from "./support/system.ts";

const BEAT_MS = 200;
/** Three quiet intervals, one interval of check granularity, and room for a loaded 2-core machine. */
const FOUND_WITHIN_MS = 5 * BEAT_MS + 1500;

async function twoGoods(): Promise<{ system: System; frozen: RunningProcess }> {
  const heartbeat = ["--heartbeat", String(BEAT_MS)];
  const system = await startSystem({
    services: ["goods"],
    distributorArgs: heartbeat,
    gateArgs: [...heartbeat, "--timeout", "1000"],
  });
  const from = system.gate.entries.length;
  const frozen = await system.startService("goods");
  await waitForInstances(system, 1, from);
  return { system, frozen };
}

async function allAnswered(system: System, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const started = Date.now();
    const response = await call(system, "GET", "/goods");
    assert.equal(response.status, 200, `request ${i}: ${JSON.stringify(response.body)}`);
    assert.ok(Date.now() - started < 500, `request ${i} took ${Date.now() - started} ms`);
  }
}

describe("heartbeats", () => {
  it("the distributor drops a frozen node, and takes it back when it thaws", async () => {
    const { system, frozen } = await twoGoods();
    try {
      const from = system.distributor.entries.length;
      const frozenAt = Date.now();
      frozen.signal("SIGSTOP");
      await system.distributor.waitFor((entry) => entry.event === "no heartbeat from", FOUND_WITHIN_MS, from);
      assert.ok(Date.now() - frozenAt < FOUND_WITHIN_MS, `found after ${Date.now() - frozenAt} ms`);
      await delay(100);
      await allAnswered(system, 10);

      const back = system.gate.entries.length;
      frozen.signal("SIGCONT");
      await waitForInstances(system, 1, back);
      await allAnswered(system, 4);
    } finally {
      frozen.signal("SIGCONT");
      await stopAll([frozen]);
      await system.stop();
    }
  });

  it("the gateway drops a frozen instance on its own, with the distributor gone", async () => {
    const { system, frozen } = await twoGoods();
    try {
      system.distributor.signal("SIGKILL");
      await system.distributor.exited;
      const from = system.gate.entries.length;
      const frozenAt = Date.now();
      frozen.signal("SIGSTOP");
      await system.gate.waitFor((entry) => entry.event === "no heartbeat from instance", FOUND_WITHIN_MS, from);
      assert.ok(Date.now() - frozenAt < FOUND_WITHIN_MS, `found after ${Date.now() - frozenAt} ms`);
      await allAnswered(system, 10);
    } finally {
      frozen.signal("SIGCONT");
      await stopAll([frozen]);
      await system.stop();
    }
  });

  it("a node reconnects when its distributor freezes, and the gateway keeps routing meanwhile", async () => {
    const { system, frozen } = await twoGoods();
    try {
      const goods = system.services.get("goods")!;
      const from = goods.entries.length;
      await delay(2 * BEAT_MS);
      system.distributor.signal("SIGSTOP");
      await goods.waitFor(
        (entry) => entry.event === "no heartbeat from the distributor; reconnecting",
        FOUND_WITHIN_MS,
        from,
      );
      await allAnswered(system, 6);
      system.distributor.signal("SIGCONT");
      const members = await startProcess("members.ts", ["0", "--distributor", `127.0.0.1:${system.distributor.port}`]);
      try {
        // The nodes that reconnected register again, and the new members registers for the first time.
        await eventually(
          async () => (await call(system, "GET", "/members?username=a&password=b")).status === 200 || undefined,
          5000,
          "members routed",
        );
      } finally {
        await stopAll([members]);
      }
    } finally {
      system.distributor.signal("SIGCONT");
      await stopAll([frozen]);
      await system.stop();
    }
  });
});
