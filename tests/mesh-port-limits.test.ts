/**
 * What peers can make a mesh port hold (issue 11 item 3), against real goods and distributor processes: many
 * peers each sending most of a 1 MiB frame and never its end, more connections than the cap, and a peer that
 * floods requests without reading the answers. Memory stays bounded, the unfinished frames are given up within
 * the frame deadline, the connection cap holds, a well-behaved peer is served meanwhile, and a connection being
 * closed makes no more log lines.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { DEFAULT_FRAME_DEADLINE_MS } from "../lib/tcp/connection.ts";
import { DEFAULT_MAX_CONNECTIONS } from "../lib/tcp/server.ts";
import { BookPeer, registration } from "./support/book-peer.ts";
import { destroyAll, inPool, open, rssKiB, watchRss } from "./support/hostile-peers.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";

const PEERS = 400;
const BYTES_PER_PEER = 1_040_000;
/**
 * Peak growth allowed while 400 peers send 1,040,000 bytes each (416 MB in all). Before the limits every
 * process grew by 400–436 MiB and kept it; now what is held is bounded by the 32 MiB budget, and the rest is
 * each runtime's read buffers and garbage not yet collected (measured +50 MiB on Node, up to +111 MiB on Deno).
 */
const RSS_GROWTH_BOUND_KIB = 192 * 1024;
const SLOW = { timeout: 60_000 };

type Target = "goods" | "distributor";

/** A frame that starts like a real request and never ends: no `¶` in it. */
function unfinishedFrame(target: Target): Buffer {
  const head = Buffer.from(`{"uri":"/${target === "goods" ? "goods" : "distributes"}","method":"POST","params":{"s":"`);
  return Buffer.concat([head, Buffer.alloc(BYTES_PER_PEER - head.length, "x")]);
}

/** A well-behaved peer on one connection: asks every 200 ms and records how long each answer took. */
class SteadyPeer {
  readonly latencies: number[] = [];
  unanswered = 0;
  #stopped = false;
  #running: Promise<void> | undefined;

  constructor(readonly port: number, readonly target: Target) {}

  start(): this {
    this.#running = this.#run();
    return this;
  }

  async #run(): Promise<void> {
    const peer = await BookPeer.connect(this.port);
    try {
      for (let key = 1; !this.#stopped; key++) {
        const asked = Date.now();
        const from = peer.packets.length;
        if (this.target === "goods") {
          peer.send({ uri: "/goods", method: "GET", params: { key } });
          await peer.waitFor((packet) => packet.key === key, 5000, from).then(
            () => this.latencies.push(Date.now() - asked),
            () => this.unanswered++,
          );
        } else {
          peer.send(registration(`steady-${key}`, 1));
          await peer.waitFor((packet) => JSON.stringify(packet).includes(`steady-${key}`), 5000, from).then(
            () => this.latencies.push(Date.now() - asked),
            () => this.unanswered++,
          );
        }
        await delay(200);
      }
    } finally {
      peer.close();
    }
  }

  async stop(): Promise<{ answered: number; unanswered: number; slowestMs: number }> {
    this.#stopped = true;
    await this.#running;
    return { answered: this.latencies.length, unanswered: this.unanswered, slowestMs: Math.max(...this.latencies) };
  }
}

describe("mesh port limits", () => {
  let distributor: RunningProcess;
  let goods: RunningProcess;
  const processOf = (target: Target) => target === "goods" ? goods : distributor;

  before(async () => {
    distributor = await startProcess("distributor.ts", ["0"]);
    goods = await startProcess("goods.ts", ["0", "--distributor", `127.0.0.1:${distributor.port}`]);
  });
  after(async () => {
    destroyAll();
    await stopAll([goods, distributor]);
  });

  for (const target of ["goods", "distributor"] as const) {
    it(
      `${target}: ${PEERS} peers sending ${BYTES_PER_PEER} bytes with no ¶: memory bounded, all closed within the frame deadline, a normal peer served`,
      SLOW,
      async () => {
        const process = processOf(target);
        const pid = process.child.pid;
        const before = rssKiB(pid)!;
        const steady = new SteadyPeer(process.port, target).start();
        await delay(500);
        const watch = watchRss(pid);
        const frame = unfinishedFrame(target);
        const closedAfter: number[] = [];
        const started = Date.now();
        await inPool(PEERS, 50, async () => {
          const socket = await open(process.port);
          socket.on("close", () => closedAfter.push(Date.now() - started));
          // Reading, so that a close by the server is noticed even when nothing is left to write.
          socket.resume();
          socket.write(frame);
        });
        const opened = Date.now() - started;
        const giveUpAt = Date.now() + DEFAULT_FRAME_DEADLINE_MS + 8000;
        while (closedAfter.length < PEERS && Date.now() < giveUpAt) await delay(50);
        const peakGrowth = watch.stop() - before;
        const served = await steady.stop();
        const lastClosedMs = Math.max(...closedAfter);
        console.log(
          `${target}: RSS ${Math.round(before / 1024)} MiB, peak +${Math.round(peakGrowth / 1024)} MiB; `
            + `${closedAfter.length} of ${PEERS} closed, the last after ${lastClosedMs} ms (opened in ${opened} ms); `
            + `normal peer ${JSON.stringify(served)}`,
        );
        assert.equal(closedAfter.length, PEERS, "connections closed by the server");
        assert.ok(peakGrowth < RSS_GROWTH_BOUND_KIB, `peak RSS growth ${Math.round(peakGrowth / 1024)} MiB`);
        // The deadline runs from the first byte the server read, which a loaded server reads late.
        assert.ok(lastClosedMs <= opened + DEFAULT_FRAME_DEADLINE_MS + 5000, `last closed after ${lastClosedMs} ms`);
        assert.equal(served.unanswered, 0, "every request of the normal peer answered");
        assert.ok(served.answered >= 10, `${served.answered} answers`);
        // Generous (2 cores shared with other work): what matters is that it is answered, not cut or refused.
        assert.ok(served.slowestMs < 3000, `slowest answer ${served.slowestMs} ms`);
      },
    );
  }

  for (const target of ["goods", "distributor"] as const) {
    it(
      `${target}: holds at most ${DEFAULT_MAX_CONNECTIONS} connections; more are closed at once, with few log lines`,
      SLOW,
      async () => {
        const process = processOf(target);
        const from = process.entries.length;
        const extra = 100;
        const sockets: Socket[] = [];
        let closedByServer = 0;
        await inPool(DEFAULT_MAX_CONNECTIONS + extra, 100, async () => {
          // A refused connection may be reset before it even reports being connected (seen on Bun).
          const socket = await open(process.port).catch(() => undefined);
          if (!socket) return void closedByServer++;
          sockets.push(socket);
          socket.on("close", () => closedByServer++);
          socket.resume();
        });
        await eventually(() => closedByServer >= extra ? true : undefined, 5000, `${extra} refusals`);
        await delay(500);
        // A connection of an earlier peer may still be closing when the flood comes: a few more may be refused.
        assert.ok(closedByServer >= extra && closedByServer <= extra + 3, `${closedByServer} closed by the server`);
        const warnings = process.entries.slice(from).filter((entry) => entry.event.startsWith("connection limit"));
        assert.ok(warnings.length >= 1 && warnings.length <= 3, `${warnings.length} warnings`);
        for (const socket of sockets) socket.destroy();
        // Once the peers are gone, a new one is served again.
        await eventually(
          async () => {
            const peer = await BookPeer.connect(process.port);
            try {
              const key = 77;
              peer.send(
                target === "goods"
                  ? { uri: "/goods", method: "GET", params: { key } }
                  : registration("after-the-cap", 1),
              );
              return await peer.waitFor(() => true, 1000).then(() => true, () => undefined);
            } finally {
              peer.close();
            }
          },
          5000,
          "a peer to be served after the others left",
        );
      },
    );
  }

  it("goods: a peer flooding requests it never reads is cut with one log line, not one per request", SLOW, async () => {
    // Answers of ~100 KB, so that a few hundred requests fill the 16 MiB a peer may leave unread.
    const seed = await BookPeer.connect(goods.port);
    for (let key = 1; key <= 20; key++) {
      seed.send({
        uri: "/goods",
        method: "POST",
        params: { name: `g${key}`, category: "c", price: 1, description: "d".repeat(5000), key },
      });
    }
    await seed.waitFor((packet) => packet.key === 20);
    seed.close();
    const from = goods.entries.length;
    const socket = await open(goods.port);
    socket.pause();
    const batch = Buffer.from(
      Array.from({ length: 2000 }, (_, key) => JSON.stringify({ uri: "/goods", method: "GET", params: { key } }) + "¶")
        .join(""),
    );
    let closed = false;
    socket.on("close", () => closed = true);
    for (let i = 0; i < 20 && !closed; i++) {
      socket.write(batch);
      await delay(50);
    }
    await eventually(
      () =>
        goods.entries.slice(from).some((entry) => JSON.stringify(entry.details).includes("peer-not-reading"))
          ? true
          : undefined,
      10_000,
      "goods to cut the peer",
    );
    await delay(1000);
    socket.destroy();
    const lines = goods.entries.slice(from).filter((entry) => entry.level === "warn" || entry.level === "error");
    console.log(`goods: ${lines.length} warning lines after cutting a peer that does not read`);
    assert.ok(
      lines.length <= 5,
      `${lines.length} lines:\n${lines.slice(0, 10).map((entry) => JSON.stringify(entry)).join("\n")}`,
    );
  });
});
