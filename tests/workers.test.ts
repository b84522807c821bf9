/**
 * The gateway on several processes (`--workers N`), on the runtime under test: both workers answer on the one port
 * (each counts the requests it served, read from its own port's /metrics), a worker killed outright is started again,
 * a worker stopped with SIGTERM drains under a keep-alive load with no failed request, the launcher's `--workers 2`
 * starts them, and a bad count is a usage error.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { DENO_PERMISSIONS, runtimeCommand } from "../lib/runtime/mod.ts";
import {
  childEntries,
  closed,
  gatewayConnections,
  isAlive,
  lines,
  startLauncher,
  stopLauncher,
  waitForLine,
} from "./support/launcher.ts";
import { delay, eventually, freePort, type LogEntry, type RunningProcess, startProcess } from "./support/processes.ts";
import { parsePrometheusText, valueOf } from "./support/prometheus-text.ts";
import { startSystem, type System } from "./support/system.ts";

const SLOW = { timeout: 120_000 };

/** An answer as the load client read it. */
interface Answer {
  status: number;
  /** The answer said `Connection: close`: the next request goes on a new connection. */
  close: boolean;
}

/** Why a request got no answer, and whether any byte of one had come. */
class NoAnswer extends Error {
  constructor(message: string, readonly beforeAnswer: boolean) {
    super(message);
  }
}

/**
 * One HTTP/1.1 keep-alive connection, one request at a time, as a browser or wrk keeps it: it knows when the server
 * has closed it while idle (it then opens a new one rather than send on it), and whether a request that failed had
 * any byte of answer.
 */
class KeepAliveConnection {
  /** Requests answered on it. */
  answered = 0;
  closed = false;
  readonly #socket: Socket;
  #received = "";
  #waiting?: { resolve(answer: Answer): void; reject(error: NoAnswer): void };

  constructor(port: number) {
    this.#socket = connect(port, "127.0.0.1");
    this.#socket.setEncoding("latin1");
    this.#socket.on("data", (text: string) => {
      this.#received += text;
      this.#read();
    });
    const gone = (error?: Error) => {
      this.closed = true;
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting?.reject(new NoAnswer(error?.message ?? "closed by the server", this.#received === ""));
    };
    this.#socket.on("error", gone);
    this.#socket.on("close", () => gone());
  }

  /** An answer that does not come within `timeoutMs` is a failure too (the connection is closed). */
  request(path: string, timeoutMs = 15_000): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        this.close();
        reject(new NoAnswer(`no answer within ${timeoutMs} ms`, false));
      }, timeoutMs);
      this.#waiting = {
        resolve(answer) {
          clearTimeout(timer);
          resolve(answer);
        },
        reject(error) {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  /** Takes one whole answer (Content-Length or chunked) from what was received. */
  #read(): void {
    const headEnd = this.#received.indexOf("\r\n\r\n");
    if (headEnd === -1 || !this.#waiting) return;
    const [statusLine, ...headerLines] = this.#received.slice(0, headEnd).split("\r\n");
    const headers = new Map(headerLines.map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim().toLowerCase()];
    }));
    let end: number;
    if (headers.has("content-length")) {
      end = headEnd + 4 + Number(headers.get("content-length"));
      if (this.#received.length < end) return;
    } else {
      const last = this.#received.indexOf("\r\n0\r\n\r\n", headEnd);
      if (last === -1) return;
      end = last + 7;
    }
    this.#received = this.#received.slice(end);
    this.answered++;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting.resolve({ status: Number(statusLine.split(" ")[1]), close: headers.get("connection") === "close" });
  }
}

interface LoadReport {
  answered: number;
  statuses: Record<number, number>;
  /** Answers that said `Connection: close` (a worker draining). */
  toldToReconnect: number;
  /** Connections the server closed while idle, replaced before the next request. */
  reconnected: number;
  /** Requests sent again: their connection, which had answered before, closed before any byte of this answer. */
  resent: number;
  /** Everything else: a request on a new connection that failed, an answer cut short, a resent one that failed. */
  failures: string[];
}

/**
 * `connections` loops of GET requests, each on its own keep-alive connection, until `stop` is aborted. A connection
 * the server closed while idle is replaced before the next request, as browsers and wrk do (`reconnected`). A request
 * that failed before any byte of answer on a connection that had answered before (the server closed it while the
 * request was on its way) is sent again once on a new connection, as browsers do (RFC 9112 §9.3.1), and counted
 * (`resent`). Every other failure is one: a request on a new connection that got no answer, an answer cut short, no
 * answer within 15 s, a resent request that failed again.
 */
async function keepAliveLoad(port: number, path: string, connections: number, stop: AbortSignal): Promise<LoadReport> {
  const report: LoadReport = { answered: 0, statuses: {}, toldToReconnect: 0, reconnected: 0, resent: 0, failures: [] };
  const loop = async () => {
    let connection = new KeepAliveConnection(port);
    while (!stop.aborted) {
      if (connection.closed) {
        report.reconnected++;
        connection = new KeepAliveConnection(port);
      }
      let answer: Answer;
      try {
        answer = await connection.request(path);
      } catch (error) {
        const reusable = error instanceof NoAnswer && error.beforeAnswer && connection.answered > 0;
        connection.close();
        connection = new KeepAliveConnection(port);
        if (!reusable) {
          report.failures.push(`on a new connection: ${(error as Error).message}`);
          continue;
        }
        report.resent++;
        try {
          answer = await connection.request(path);
        } catch (again) {
          report.failures.push(`resent: ${(again as Error).message}`);
          continue;
        }
      }
      report.answered++;
      report.statuses[answer.status] = (report.statuses[answer.status] ?? 0) + 1;
      if (answer.close) {
        report.toldToReconnect++;
        connection.close();
        connection = new KeepAliveConnection(port);
      }
    }
    connection.close();
  };
  await Promise.all(Array.from({ length: connections }, loop));
  return report;
}

/** One request on a connection of its own: the kernel (SO_REUSEPORT) or the cluster's primary picks its worker. */
async function getOnNewConnection(port: number, path: string, timeoutMs?: number): Promise<number> {
  const connection = new KeepAliveConnection(port);
  try {
    return (await connection.request(path, timeoutMs)).status;
  } finally {
    connection.close();
  }
}

/** The workers' pids, by number, from their supervisor's `worker N started (pid P, …)` lines; the latest start wins. */
function workerPids(gate: RunningProcess): Map<number, number> {
  const pids = new Map<number, number>();
  for (const entry of gate.entries) {
    const match = /^worker (\d+) started \(pid (\d+),/.exec(entry.event);
    if (match) pids.set(Number(match[1]), Number(match[2]));
  }
  return pids;
}

/** Worker N's port of its own, from its latest `own address` line (the supervisor names its lines `worker N`). */
function ownPort(gate: RunningProcess, worker: number): number | undefined {
  const entry = gate.entries.findLast((line: LogEntry) =>
    line.process === `worker ${worker}` && line.event === "own address"
  );
  return (entry?.details[0] as { port: number } | undefined)?.port;
}

/** GET /goods answered with 200 by worker N, as its own /metrics counts them. */
async function answeredBy(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  return valueOf(parsePrometheusText(text), "pilcrow_gateway_requests_total", { route: "GET/goods", status: "200" })
    ?? 0;
}

describe("gateway workers", () => {
  let system: System;
  before(async () => {
    system = await startSystem({ services: ["goods"], gateArgs: ["--workers", "2", "--metrics"] });
    // Each worker is a member of the mesh: each connects to goods.
    await system.gate.waitFor(
      () => system.gate.entries.filter((entry) => entry.event === "instance connected").length >= 2,
      60_000,
    );
  });
  after(() => system?.stop());

  /** Sends `count` requests, each on a new connection, and checks that both workers answered some, and all of them. */
  async function bothAnswer(count: number): Promise<void> {
    const ports = [1, 2].map((worker) => ownPort(system.gate, worker));
    assert.ok(ports.every((port) => port !== undefined), `both workers have a port of their own: ${ports}`);
    const before = await Promise.all(ports.map((port) => answeredBy(port!)));
    for (let sent = 0; sent < count; sent++) assert.equal(await getOnNewConnection(system.gate.port, "/goods"), 200);
    const after = await Promise.all(ports.map((port) => answeredBy(port!)));
    const served = after.map((value, index) => value - before[index]);
    assert.equal(served[0] + served[1], count, `every request counted once: ${served}`);
    assert.ok(served.every((value) => value > 0), `both workers answered: ${served}`);
  }

  it("runs two gateway processes on one port, both answering, each registered", SLOW, async () => {
    const pids = workerPids(system.gate);
    assert.equal(pids.size, 2);
    assert.notEqual(pids.get(1), pids.get(2));
    await bothAnswer(40);
    // The distributor lists both, each at its own port (one address would be one node to it).
    const listed = system.distributor.entries.filter((entry) =>
      entry.event === "onRead" && (entry.details[2] as { params: { name: string } }).params.name === "gate"
    ).map((entry) => (entry.details[2] as { params: { port: number } }).params.port);
    assert.deepEqual(new Set(listed), new Set([ownPort(system.gate, 1), ownPort(system.gate, 2)]));
  });

  it("starts a worker killed outright again, and the port keeps answering", SLOW, async () => {
    const killed = workerPids(system.gate).get(1)!;
    const from = system.gate.entries.length;
    process.kill(killed, "SIGKILL");
    // The other worker answers meanwhile. A request may fail while the kill is news: the connection was the killed
    // worker's, or (Node's cluster) on its way to it, which the primary then holds unanswered.
    for (let sent = 0; sent < 10; sent++) {
      await eventually(
        () =>
          getOnNewConnection(system.gate.port, "/goods", 2000).then(
            (status) => status === 200 || undefined,
            () => undefined,
          ),
        30_000,
        "an answer on the port",
      );
    }
    await system.gate.waitFor(
      (entry) => entry.process === "worker 1" && entry.event === "instance connected",
      60_000,
      from,
    );
    assert.notEqual(workerPids(system.gate).get(1), killed);
    await bothAnswer(40);
  });

  it("drains a worker stopped with SIGTERM: a keep-alive load sees no failed request", SLOW, async (t) => {
    const stop = new AbortController();
    const load = keepAliveLoad(system.gate.port, "/goods", 16, stop.signal);
    try {
      await delay(1500);
      const from = system.gate.entries.length;
      process.kill(workerPids(system.gate).get(2)!, "SIGTERM");
      await system.gate.waitFor((entry) => /^worker 2 exited \(exit code 0\)/.test(entry.event), 30_000, from);
      await system.gate.waitFor(
        (entry) => entry.process === "worker 2" && entry.event === "instance connected",
        60_000,
        from,
      );
      await delay(1500);
    } finally {
      stop.abort();
    }
    const report = await load;
    t.diagnostic(JSON.stringify(report));
    assert.deepEqual(report.failures, []);
    // Not even one a browser would have sent again: no keep-alive connection closed under a request.
    assert.equal(report.resent, 0);
    assert.deepEqual(Object.keys(report.statuses), ["200"]);
    assert.ok(report.answered > 100, `the load ran: ${report.answered} answers`);
    // The stopping worker told its clients to go: the stop reached the load.
    assert.ok(report.toldToReconnect > 0);
  });
});

describe("--workers on the command line", () => {
  for (
    const [args, env] of [[["--workers", "0"], {}], [["--workers", "abc"], {}], [[], { PILCROW_WORKERS: "0" }], [[
      "--workers",
      "257",
    ], {}]] as const
  ) {
    it(`refuses ${args.join(" ") || JSON.stringify(env)}: a usage error, exit 2`, SLOW, async () => {
      const gate = await startProcess("gate.ts", ["0", ...args], { waitForListen: false, env });
      assert.equal(await closed(gate), 2);
      assert.match(gate.output.join("\n"), /--workers/);
    });
  }

  it("will not share a port something else listens on (SO_REUSEPORT would let it)", SLOW, async () => {
    const holder = await listenOn(0);
    try {
      const port = (holder.address() as { port: number }).port;
      const nowhere = `127.0.0.1:${await freePort()}`;
      const gate = await startProcess("gate.ts", [String(port), "--workers", "2", "--distributor", nowhere], {
        waitForListen: false,
      });
      assert.equal(await closed(gate), 1, gate.output.join("\n"));
      assert.match(gate.output.join("\n"), /cannot listen|EADDRINUSE|in use/i);
    } finally {
      holder.close();
    }
  });

  it("stops at once when asked while its workers still wait for NATS", SLOW, async () => {
    const nowhere = `nats://127.0.0.1:${await freePort()}`;
    const gate = await startProcess("gate.ts", ["0", "--workers", "2", "--mesh", nowhere], { waitForListen: false });
    await eventually(
      () => gate.output.some((line) => line.includes("worker 2 started")) || undefined,
      30_000,
      "workers",
    );
    const askedAt = Date.now();
    gate.signal("SIGTERM");
    assert.equal(await closed(gate), 0, gate.output.join("\n"));
    assert.ok(Date.now() - askedAt < 15_000, `stopped after ${Date.now() - askedAt} ms`);
  });

  it("gives every worker the one live-page token it logs, off loopback", SLOW, async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const gate = await startProcess("gate.ts", [
      "0",
      "--host",
      "0.0.0.0",
      "--workers",
      "2",
      "--dashboard",
      "--distributor",
      nowhere,
    ]);
    try {
      const link = await gate.waitForEvent("dashboard");
      const token = new URL(link.details[0] as string).searchParams.get("token");
      assert.match(token ?? "", /^[0-9a-f]{32}$/);
      // Each on a connection of its own, so both workers see some (the cluster's primary takes turns): each must
      // take the token, and ask for it.
      for (let sent = 0; sent < 10; sent++) {
        assert.equal(await getOnNewConnection(gate.port, `/_pilcrow/?token=${token}`), 303);
      }
      for (let sent = 0; sent < 10; sent++) assert.equal(await getOnNewConnection(gate.port, "/_pilcrow/"), 401);
    } finally {
      await gate.stop();
    }
  });

  it("lets a gateway on Deno given --workers run Deno itself, and only then", () => {
    const permissions = (args: string[]) =>
      runtimeCommand("deno", "x.ts", args).filter((arg) => arg.startsWith("--allow-"));
    assert.deepEqual(permissions(["--workers", "2"]), [
      ...DENO_PERMISSIONS,
      `--allow-run=${runtimeCommand("deno", "x.ts")[0]}`,
    ]);
    assert.deepEqual(permissions(["--workers=1"]), DENO_PERMISSIONS);
    assert.deepEqual(permissions([]), DENO_PERMISSIONS);
  });

  it("is a usage error in the launcher too", SLOW, async () => {
    const launcher = await startLauncher(["--ports", "free", "--workers", "0"]);
    assert.equal(await closed(launcher), 2);
  });

  it("is passed by the launcher: `up --workers 2` runs two gateway processes", SLOW, async () => {
    let launcher: RunningProcess | undefined;
    try {
      launcher = await startLauncher(["--ports", "free", "--workers", "2"]);
      const port = Number((await waitForLine(launcher, /^Pilcrow is up: gateway on http:\/\/127\.0\.0\.1:(\d+)$/))[1]);
      const gate = childEntries(launcher, "gate");
      const workers = gate.flatMap((entry) => {
        const match = /^worker \d started \(pid (\d+)/.exec(entry.event);
        return match ? [Number(match[1])] : [];
      });
      assert.equal(workers.length, 2, lines(launcher).join("\n"));
      assert.equal(gate.filter((entry) => entry.event === "listen").length, 2);
      // Ready is listening: each worker learns the routes from the mesh just after.
      await eventually(() => gatewayConnections(launcher!, "goods") === 2 || undefined, 30_000, "both workers → goods");
      assert.equal(await getOnNewConnection(port, "/goods"), 200);
      const exit = closed(launcher);
      launcher.signal("SIGTERM");
      assert.equal(await exit, 0);
      await eventually(() => workers.every((pid) => !isAlive(pid)) || undefined, 10_000, "the workers to exit");
    } finally {
      await stopLauncher(launcher);
    }
  });
});

/** A plain TCP listener on 127.0.0.1 (no SO_REUSEPORT): what holds a port a gateway must not share. */
function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
