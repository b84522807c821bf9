/**
 * The logs service and shipping to it, with real processes: a distributor, the logs service writing to a file of
 * the test's own, and nodes started with --log-to-mesh. Batches are also sent straight to the service's port, as
 * the book's peers send packets, to see what it acknowledges, refuses and rotates; and it is SIGKILLed, to see
 * that an acknowledged batch is in the file.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type AnyPacket, BookPeer } from "./support/book-peer.ts";
import { closed, lines, startLauncher, stopLauncher, waitForLine } from "./support/launcher.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, startSystem, type System } from "./support/system.ts";

const directory = mkdtempSync(join(tmpdir(), "pilcrow-logs-"));
after(() => rmSync(directory, { recursive: true, force: true }));

/** The JSON lines of a file, [] while it does not exist. */
function linesOf(path: string): AnyPacket[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

function logLine(event: string, ...details: unknown[]): AnyPacket {
  return { time: new Date().toISOString(), level: "info", process: "tester", event, details };
}

let keys = 0;
/** Sends a batch straight to the logs service and waits for its answer. */
async function send(peer: BookPeer, params: unknown): Promise<AnyPacket> {
  const key = ++keys;
  peer.send({ uri: "/logs", method: "POST", key, params });
  return await peer.waitFor((packet) => packet.key === key);
}

/** A logs service writing `file`, in the test's directory: its data directory (on Deno, the one it may write). */
function startLogs(distributor: RunningProcess, file: string, ...args: string[]): Promise<RunningProcess> {
  const mesh = ["--distributor", `127.0.0.1:${distributor.port}`];
  return startProcess("logs.ts", ["0", ...mesh, "--data-dir", directory, "--logs-file", file, ...args]);
}

describe("the logs service", () => {
  let distributor: RunningProcess;
  const started: RunningProcess[] = [];
  before(async () => {
    distributor = await startProcess("distributor.ts", ["0"]);
  });
  after(() => stopAll([...started, distributor]));

  it("writes an acknowledged batch, with the sender's node, and a SIGKILL right after loses none of it", async () => {
    const file = join(directory, "kill.jsonl");
    const logs = await startLogs(distributor, file);
    started.push(logs);
    const peer = await BookPeer.connect(logs.port);
    const lines = [logLine("first", { a: 1 }), { ...logLine("second"), level: "warn", traceId: "4bf92f35" }];
    const answer = await send(peer, { lines, node: "tester@127.0.0.1:1", dropped: 3 });
    assert.deepEqual([answer.errorcode, answer.errormessage, answer.written], [0, "success", 3]);
    logs.signal("SIGKILL");
    await logs.exited;
    peer.close();
    const written = linesOf(file);
    assert.deepEqual(written.map((line) => [line.event, line.node]), [
      ["log lines dropped", "tester@127.0.0.1:1"],
      ["first", "tester@127.0.0.1:1"],
      ["second", "tester@127.0.0.1:1"],
    ]);
    assert.deepEqual(written[0].details, [{ lines: 3, by: "tester@127.0.0.1:1" }]);
    assert.deepEqual(written[1].details, [{ a: 1 }]);
    assert.equal(written[2].traceId, "4bf92f35", "a line's own fields are kept");
  });

  it("writes a file outside its data directory (on Deno it is granted that file's folder)", async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "pilcrow-logs-elsewhere-"));
    try {
      const file = join(elsewhere, "out.jsonl");
      const logs = await startLogs(distributor, file);
      started.push(logs);
      const peer = await BookPeer.connect(logs.port);
      const answer = await send(peer, { lines: [logLine("elsewhere")] });
      peer.close();
      assert.equal(answer.errorcode, 0, JSON.stringify(answer));
      assert.deepEqual(linesOf(file).map((line) => line.event), ["elsewhere"]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("refuses a malformed batch whole, with errorcode 1, and writes nothing of it", async () => {
    const file = join(directory, "malformed.jsonl");
    const logs = await startLogs(distributor, file);
    started.push(logs);
    const peer = await BookPeer.connect(logs.port);
    assert.equal((await send(peer, { lines: [logLine("kept")] })).errorcode, 0);
    const sizeBefore = statSync(file).size;
    const good = logLine("good");
    const malformed: [string, unknown][] = [
      ["no params", undefined],
      ["params not an object", "lines"],
      ["no lines", { node: "x" }],
      ["lines not an array", { lines: good }],
      ["no line at all", { lines: [] }],
      ["too many lines", { lines: Array.from({ length: 1001 }, () => good) }],
      ["a line not an object", { lines: [good, "text"] }],
      ["a line without a level", { lines: [good, { ...good, level: undefined }] }],
      ["an unknown level", { lines: [{ ...good, level: "fatal" }] }],
      ["a time not a string", { lines: [{ ...good, time: 1 }] }],
      ["no process", { lines: [{ ...good, process: undefined }] }],
      ["an event too long", { lines: [{ ...good, event: "e".repeat(1001) }] }],
      ["a line too long", { lines: [{ ...good, details: ["x".repeat(20_000)] }] }],
      ["a negative dropped count", { lines: [good], dropped: -1 }],
      ["a dropped count not a number", { lines: [good], dropped: "3" }],
      ["a node too long", { lines: [good], node: "n".repeat(301) }],
    ];
    for (const [what, params] of malformed) {
      const answer = await send(peer, params);
      assert.deepEqual([answer.errorcode, answer.errormessage], [1, "Invalid Parameters"], what);
    }
    peer.writeRaw("{not json¶");
    assert.equal((await send(peer, { lines: [logLine("still answering")] })).errorcode, 0, "the service still works");
    const written = linesOf(file);
    assert.deepEqual(written.map((line) => line.event), ["kept", "still answering"]);
    assert.ok(statSync(file).size > sizeBefore);
    peer.close();
  });

  it("rotates by size: .1 (newest) to .N, each under the limit, no line lost within them", async () => {
    const file = join(directory, "rotating.jsonl");
    const logs = await startLogs(distributor, file, "--logs-max-bytes", "4096", "--logs-keep", "3");
    started.push(logs);
    const peer = await BookPeer.connect(logs.port);
    let sent = 0;
    // ~200 bytes a line, 20 lines a batch: 4 KB a batch, 40 KB in all, ten files' worth.
    for (let batch = 0; batch < 10; batch++) {
      const lines = Array.from({ length: 20 }, () => logLine("numbered", sent++, "p".repeat(100)));
      assert.equal((await send(peer, { lines })).errorcode, 0);
    }
    peer.close();
    const files = [`${file}.3`, `${file}.2`, `${file}.1`, file];
    for (const path of files) assert.ok(statSync(path).size <= 4096, `${path}: ${statSync(path).size} bytes`);
    assert.equal(existsSync(`${file}.4`), false, "only 3 old files kept");
    const numbers = files.flatMap(linesOf).map((line) => line.details[0]);
    assert.equal(numbers.at(-1), sent - 1, "the newest line is in the file");
    assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, index) => sent - numbers.length + index));
    assert.ok(numbers.length >= 3 * 15, `${numbers.length} lines kept`);
  });

  it("ignores --log-to-mesh: its own lines never go to itself", async () => {
    const file = join(directory, "own.jsonl");
    const logs = await startLogs(distributor, file, "--log-to-mesh");
    started.push(logs);
    await logs.waitForEvent("--log-to-mesh ignored");
    await delay(500);
    assert.equal(logs.entries.some((entry) => entry.event === "instance connected"), false, "not connected to itself");
    assert.deepEqual(linesOf(file), []);
  });

  it("refuses flags it cannot use, exit 2", async () => {
    const usage = [
      ["--logs-keep", "many"],
      ["--logs-max-bytes", "100"],
      ["--logs-max-bytes", "-1"],
      ["--data-dir", ":memory:"],
    ];
    for (const args of usage) {
      const logs = await startProcess("logs.ts", ["0", ...args], { waitForListen: false });
      assert.equal(await logs.exited, 2, `${args.join(" ")}: ${logs.output.join("\n")}`);
    }
  });
});

describe("shipping log lines over the mesh (--log-to-mesh)", () => {
  let system: System;
  let who: RunningProcess;
  let logs: RunningProcess | undefined;
  const file = join(directory, "mesh.jsonl");
  const env = { PILCROW_LOG_TO_MESH: "1" };
  /** When the logs service was killed, and when it was started again. */
  let killedAt = "";
  let restartedAt = "";
  const gateLines = () => linesOf(file).filter((line) => line.process === "gate");
  /** A request the gateway gives up on after 300 ms: it logs a `timeout` line about it. */
  const timedOutRequest = async () => assert.equal((await call(system, "GET", "/who?ms=1000")).status, 504);

  before(async () => {
    system = await startSystem({ services: ["goods"], gateArgs: ["--timeout", "300"], env });
    const mesh = ["--distributor", `127.0.0.1:${system.distributor.port}`];
    who = await startProcess("tests/support/who-service.ts", ["0", ...mesh], { env });
    logs = await startLogs(system.distributor, file);
  });
  after(async () => {
    await stopAll([who, logs]);
    await system.stop();
  });

  it("sends each node's lines, a request's included, to the file, with the node that wrote them", async () => {
    await timedOutRequest();
    const line = await eventually(
      () => gateLines().find((entry) => entry.event === "timeout" && entry.details[0] === "GET/who"),
      10_000,
      "the gateway's timeout line in the file",
    );
    assert.equal(line.level, "warn");
    assert.match(line.node, new RegExp(`^gate@127\\.0\\.0\\.1:${system.gate.port}$`));
    assert.match(line.traceId, /^[0-9a-f]{32}$/, "a request's line carries its trace id");
    // Written before goods had joined the mesh: held until the logs service was there.
    const listen = await eventually(
      () => linesOf(file).find((entry) => entry.process === "goods" && entry.event === "listen"),
      10_000,
      "goods's listen line",
    );
    assert.equal(listen.node, `goods@127.0.0.1:${system.services.get("goods")!.port}`);
    assert.equal(linesOf(file).some((entry) => entry.event === "log lines dropped"), false);
  });

  it("is never reached from HTTP: the gateway answers POST /logs 404 and writes nothing", async () => {
    const forged = { lines: [logLine("forged by a client")] };
    const answer = await call(system, "POST", "/logs", forged);
    assert.equal(answer.status, 404, JSON.stringify(answer.body));
    assert.match(answer.body.errormessage, /only inside the mesh/);
    await delay(300);
    assert.equal(linesOf(file).some((line) => line.event === "forged by a client"), false);
  });

  it("drops and counts lines while the logs service is away, and requests take no longer", async () => {
    const timeGoods = async () => {
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const startedAt = performance.now();
        await call(system, "GET", "/goods");
        times.push(performance.now() - startedAt);
      }
      return times.sort((a, b) => a - b)[15];
    };
    const present = await timeGoods();
    killedAt = new Date().toISOString();
    logs!.signal("SIGKILL");
    await logs!.exited;
    logs = undefined;
    for (let i = 0; i < 5; i++) await timedOutRequest();
    const away = await timeGoods();
    assert.ok(away < present * 2 + 5, `median ${away.toFixed(1)} ms away, ${present.toFixed(1)} ms present`);
    const report = await system.gate.waitForEvent("log lines dropped", 15_000);
    const { lines, reasons } = report.details[0] as { lines: number; reasons: string[] };
    // Reported at most once per 10 s: this first report counts what was dropped until then (the file gets them all).
    assert.ok(lines >= 1, `${lines} dropped`);
    assert.ok(reasons.includes("no logs service"), reasons.join());
  });

  it("resumes once a logs service is back, and says there how many lines were dropped", async () => {
    const before = gateLines().length;
    restartedAt = new Date().toISOString();
    logs = await startLogs(system.distributor, file);
    await timedOutRequest();
    await eventually(
      () => gateLines().slice(before).some((entry) => entry.event === "timeout") || undefined,
      10_000,
      "a new timeout line",
    );
    const dropped = gateLines().slice(before).find((entry) => entry.event === "log lines dropped");
    assert.ok(dropped, "the gap is in the file");
    // Every line the gateway wrote while the service was away is in the file (held until it came back) or counted.
    const away = (time: string) => time >= killedAt && time < restartedAt;
    const written = system.gate.entries.filter((entry) =>
      away((entry as { time?: string }).time ?? "") && !JSON.stringify(entry).includes("\"POST/logs\"")
    );
    const arrived = gateLines().filter((entry) => away(entry.time));
    const counted: number = dropped.details[0].lines;
    assert.ok(counted >= 1 && counted + arrived.length >= written.length, `${counted} + ${arrived.length}`);
  });
});

describe("the launcher with --logs", () => {
  it("runs the logs service, every other node sends it its lines, and it stops after them", async () => {
    const dataDir = mkdtempSync(join(directory, "up-"));
    const file = join(dataDir, "logs", "pilcrow.jsonl");
    const launcher = await startLauncher(["--ports", "free", "--logs"], dataDir);
    try {
      await waitForLine(launcher, /^Pilcrow is up/);
      const listened = () =>
        new Set(linesOf(file).filter((line) => line.event === "listen").map((line) => line.process));
      await eventually(() => listened().size === 4 || undefined, 15_000, () => `listen lines of ${[...listened()]}`);
      assert.deepEqual([...listened()].sort(), ["gate", "goods", "members", "purchases"]);
      assert.ok(linesOf(file).every((line) => line.process !== "logs" && typeof line.node === "string"));
      // The distributor is the mesh's registry, not in it: it is not asked to ship, so it has nothing to ignore.
      assert.ok(!lines(launcher).some((line) => line.includes("--log-to-mesh ignored")), lines(launcher).join("\n"));
    } finally {
      await stopLauncher(launcher);
    }
    const stopping = linesOf(file).filter((line) => line.event === "stopping").map((line) => line.process);
    assert.ok(stopping.includes("goods"), `stopping lines of ${stopping}`);
  });

  it("refuses the logs service's options without --logs, and --logs with no file it could write", async () => {
    const usage = [["--logs-keep", "2"], ["--logs", "--data-dir", ":memory:"], ["--logs", "--logs-max-bytes", "4000"]];
    for (const args of usage) {
      const launcher = await startLauncher(args);
      assert.equal(await closed(launcher), 2, args.join(" "));
    }
  });
});
