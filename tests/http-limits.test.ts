/**
 * The gateway's HTTP server lets go of what an attacker leaves hanging, on every runtime: keep-alive connections
 * left idle are closed within the idle timeout, connections that never finish their request (a body that stalls
 * 1 KB short, or no request at all) within the request deadline, the memory they held is reused rather than
 * piled up, and ordinary requests are served all the while. Two waves of the attack, so that memory that was not
 * let go would show.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { DEFAULT_TIMEOUT_MS } from "../lib/gateway/app.ts";
import { DEFAULT_HTTP_IDLE_TIMEOUT_MS, DEFAULT_HTTP_REQUEST_TIMEOUT_MS, type RuntimeName } from "../lib/runtime/mod.ts";
import { rssKiB, watchRss } from "./support/hostile-peers.ts";
import { delay, testRuntime } from "./support/processes.ts";
import { call, startSystem, type System } from "./support/system.ts";

const IDLE = 300;
const SILENT = 200;
const STALLED = 600;
const DECLARED_BYTES = 131_072;
const SENT_BYTES = 130_000;
/** Late closing allowed for a loaded machine: Node checks request deadlines once a second, and 2 cores are shared. */
const MARGIN_MS = 3000;
/**
 * The gateway's RSS may grow this much over both waves. Measured with 600 stalled bodies a wave: 125–210 MiB with
 * the limits (Node, Bun, Deno); Deno.serve, which never closes them, grew 330 MiB in the first wave alone.
 */
const MEMORY_BOUND_KIB = 300 * 1024;

interface Limits {
  /** A keep-alive connection left idle after its answer is closed within this. */
  idle: number;
  /** A connection that never sends a byte. */
  silent: number;
  /** A request whose body stalls. */
  stalled: number;
}

/** What each runtime's server is set to (lib/runtime: node-http.ts, bun.ts; Deno serves through node:http). */
function limitsOf(runtime: RuntimeName): Limits {
  if (runtime !== "bun") {
    return {
      idle: DEFAULT_HTTP_IDLE_TIMEOUT_MS,
      silent: DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
      stalled: DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
    };
  }
  // Bun's one idle timeout is kept above the gateway's own timeout, as its idle timer runs while an answer is
  // awaited; Bun counts it in 4-second ticks, and closes a connection that never sends a byte after 12 s, fixed.
  const idle = Math.ceil(Math.max(DEFAULT_HTTP_IDLE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS + 1000) / 4000) * 4000;
  return { idle, silent: 12_000, stalled: idle };
}

interface Watched {
  socket: Socket;
  /** When the connection's last byte was sent (or its answer came, for an idle one). */
  quietSince: number;
  closedAt?: number;
}

function open(port: number): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const watched: Watched = { socket, quietSince: Date.now() };
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => {});
      // Read whatever comes, or the server's close would not be seen.
      socket.on("data", () => {});
      socket.on("close", () => watched.closedAt = Date.now());
      resolve(watched);
    });
  });
}

function write(socket: Socket, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => socket.write(data, () => resolve()));
}

/** Opens a keep-alive connection, has one request answered on it, then leaves it idle. */
async function idleConnection(port: number): Promise<Watched> {
  const watched = await open(port);
  const answered = new Promise<void>((resolve) => watched.socket.once("data", () => resolve()));
  await write(watched.socket, "GET /goods HTTP/1.1\r\nHost: gateway\r\n\r\n");
  await answered;
  watched.quietSince = Date.now();
  return watched;
}

/** A POST that declares 131,072 bytes of body, sends 130,000 of them, then stalls. */
async function stalledBody(port: number, body: Buffer): Promise<Watched> {
  const watched = await open(port);
  await write(
    watched.socket,
    `POST /goods HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${DECLARED_BYTES}\r\n\r\n`,
  );
  await write(watched.socket, body);
  watched.quietSince = Date.now();
  return watched;
}

/** Waits until every connection is closed, or `limitMs` after the last went quiet; returns those still open. */
async function closedWithin(connections: Watched[], limitMs: number): Promise<Watched[]> {
  const deadline = Math.max(...connections.map((watched) => watched.quietSince)) + limitMs;
  while (Date.now() < deadline && connections.some((watched) => watched.closedAt === undefined)) await delay(100);
  return connections.filter((watched) =>
    watched.closedAt === undefined || watched.closedAt - watched.quietSince > limitMs
  );
}

describe(`the gateway's HTTP limits (${testRuntime()})`, () => {
  const runtime = testRuntime();
  const limits = limitsOf(runtime);
  let system: System;
  let pid: number | undefined;
  const ordinary = { ok: 0, failed: [] as string[], running: true };
  let ordinaryLoop: Promise<void> | undefined;
  const opened: Watched[] = [];

  before(async () => {
    system = await startSystem({ services: ["goods"] });
    pid = system.gate.child.pid;
    const posted = await call(system, "POST", "/goods", { name: "n", category: "c", price: 1, description: "d" });
    assert.equal(posted.body.errorcode, 0);
    ordinaryLoop = (async () => {
      while (ordinary.running) {
        try {
          const listed = await call(system, "GET", "/goods");
          if (listed.status === 200 && listed.body.errorcode === 0) ordinary.ok++;
          else ordinary.failed.push(`${listed.status} ${JSON.stringify(listed.body)}`);
        } catch (error) {
          ordinary.failed.push((error as Error).message);
        }
        await delay(200);
      }
    })();
  });
  after(async () => {
    ordinary.running = false;
    await ordinaryLoop;
    for (const watched of opened) watched.socket.destroy();
    await system?.stop();
  });

  it("closes idle, silent and stalled connections in time, twice, with its memory bounded", async () => {
    const body = Buffer.alloc(SENT_BYTES, "a");
    const rssBefore = rssKiB(pid) ?? 0;
    const watch = watchRss(pid);
    for (const wave of [1, 2]) {
      const idle: Watched[] = [];
      const silent: Watched[] = [];
      const stalled: Watched[] = [];
      for (let i = 0; i < IDLE; i++) idle.push(await idleConnection(system.gate.port));
      for (let i = 0; i < SILENT; i++) silent.push(await open(system.gate.port));
      for (let i = 0; i < STALLED; i++) stalled.push(await stalledBody(system.gate.port, body));
      opened.push(...idle, ...silent, ...stalled);

      const [idleLeft, silentLeft, stalledLeft] = await Promise.all([
        closedWithin(idle, limits.idle + MARGIN_MS),
        closedWithin(silent, limits.silent + MARGIN_MS),
        closedWithin(stalled, limits.stalled + MARGIN_MS),
      ]);
      console.log(
        `${runtime} wave ${wave}: not closed in time: ${idleLeft.length} of ${IDLE} idle, ${silentLeft.length} of `
          + `${SILENT} silent, ${stalledLeft.length} of ${STALLED} stalled; gateway RSS +${
            ((rssKiB(pid) ?? 0) - rssBefore) >> 10
          } MiB`,
      );
      assert.equal(idleLeft.length, 0, `wave ${wave}: idle keep-alive connections left open`);
      assert.equal(silentLeft.length, 0, `wave ${wave}: connections that sent nothing left open`);
      assert.equal(stalledLeft.length, 0, `wave ${wave}: stalled requests left open`);
    }
    const growthKiB = watch.stop() - rssBefore;
    console.log(`${runtime}: gateway RSS peak +${growthKiB >> 10} MiB over both waves`);
    assert.ok(growthKiB < MEMORY_BOUND_KIB, `the gateway's RSS grew by ${growthKiB >> 10} MiB`);
  });

  it("served ordinary requests all the while", () => {
    assert.deepEqual(ordinary.failed, []);
    assert.ok(ordinary.ok >= 40, `${ordinary.ok} ordinary requests answered`);
  });
});
