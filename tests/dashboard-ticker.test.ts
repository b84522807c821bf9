/**
 * The live page's ticker (lib/dashboard/ticker.ts) on its own: one snapshot taken per tick however many pages
 * listen, never two at once however slow one is, the first at once, and no ticking while no page listens.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SnapshotTicker } from "../lib/dashboard/ticker.ts";
import { delay, eventually } from "./support/processes.ts";

describe("snapshot ticker", () => {
  it("takes one snapshot per tick for all listeners, the first at once, and stops with the last", async () => {
    let taken = 0;
    const ticker = new SnapshotTicker(() => Promise.resolve({ n: ++taken }), 50);
    const heardA: string[] = [];
    const heardB: string[] = [];
    const stopA = ticker.listen((json) => heardA.push(json));
    await eventually(() => heardA.length >= 1 || undefined, 1000, "the first snapshot");
    assert.equal(heardA[0], "{\"n\":1}");
    const stopB = ticker.listen((json) => heardB.push(json));
    assert.deepEqual(heardB, [heardA.at(-1)], "a new listener hears the latest at once");
    await delay(180);
    stopA();
    assert.equal(ticker.running, true);
    stopB();
    assert.equal(ticker.running, false);
    assert.equal(ticker.listeners, 0);
    // One snapshot per tick, each heard by every listener once: the numbers each heard run on by one.
    const numbers = (heard: string[]) => heard.map((json) => JSON.parse(json).n as number);
    for (const heard of [heardA, heardB]) {
      assert.deepEqual(numbers(heard), numbers(heard).map((_, index) => numbers(heard)[0] + index));
    }
    assert.ok(heardA.length >= 3, `${heardA.length} snapshots in ~200 ms at 50 ms a tick`);
    const takenWhenStopped = taken;
    await delay(150);
    assert.equal(taken, takenWhenStopped, "nothing is taken while no page listens");
  });

  it("never takes two at once: ticks during a slow one are skipped", async () => {
    let running = 0;
    let most = 0;
    let taken = 0;
    const ticker = new SnapshotTicker(async () => {
      most = Math.max(most, ++running);
      await delay(120); // slower than three ticks
      running--;
      return ++taken;
    }, 30);
    const heard: string[] = [];
    const stop = ticker.listen((json) => heard.push(json));
    await delay(400);
    stop();
    assert.equal(most, 1);
    assert.ok(taken >= 2 && taken <= 4, `${taken} taken in 400 ms at 120 ms each`);
    assert.deepEqual(heard, heard.map((_, index) => String(index + 1)));
  });

  it("skips a snapshot that fails and goes on", async () => {
    let calls = 0;
    const ticker = new SnapshotTicker(
      () => ++calls === 1 ? Promise.reject(new Error("gather failed")) : Promise.resolve(calls),
      30,
    );
    const heard: string[] = [];
    const stop = ticker.listen((json) => heard.push(json));
    await eventually(() => heard.length >= 1 || undefined, 1000, "a snapshot after the failed one");
    stop();
    assert.equal(heard[0], "2");
  });
});
