/**
 * The logger in-process, writing to captured streams: its formats, the human format's shape and its safety
 * against what peers put in details, and the rate limit that keeps a flood out; then real processes: who logs a
 * notification, and how often. Every expected text here is the same on Node, Bun and Deno: run this file on each.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createLogger, humanLine, type LoggerOptions, STAYS_LOCAL, SUPPRESSED } from "../lib/log.ts";
import { describeChange } from "../lib/mesh/node-list-summary.ts";
import type { NodeInfo } from "../lib/wire/packet.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";

function captured(options: Partial<LoggerOptions> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const log = createLogger({
    name: "test",
    format: "json",
    out: { write: (text: string) => out.push(text) },
    err: { write: (text: string) => err.push(text) },
    ...options,
  });
  const entries = (lines: string[]) => lines.map((line) => JSON.parse(line));
  return { log, out, err, entries };
}

describe("log", () => {
  it("writes one JSON object per line: debug and info to out, warn and error to err", () => {
    const { log, out, err, entries } = captured({ level: "debug" });
    log.debug("d", 1);
    log.info("Distributor Notification", { nodes: 2 });
    log.warn("w", "a\nb");
    log.error("e", new Error("boom"));
    assert.ok([...out, ...err].every((line) => line.endsWith("\n") && line.indexOf("\n") === line.length - 1));
    assert.deepEqual(entries(out).map(({ level, event }) => [level, event]), [
      ["debug", "d"],
      ["info", "Distributor Notification"],
    ]);
    assert.deepEqual(entries(err).map(({ level, event, details }) => [level, event, details]), [
      ["warn", "w", ["a\nb"]],
      ["error", "e", [{ name: "Error", message: "boom" }]],
    ]);
  });

  it("keeps the book's words in the human format", () => {
    const { log, out } = captured({ format: "human" });
    log.info("onCreate", "127.0.0.1", 50123);
    assert.deepEqual(out, ["onCreate 127.0.0.1 50123\n"]);
  });

  it("writes at most N lines per event per window, then one line saying how many it held back", async () => {
    const { log, err, entries } = captured({ rateLimit: { lines: 5, windowMs: 300 } });
    for (let i = 0; i < 1000; i++) log.warn("peer-not-reading", i);
    log.warn("another event", "still written");
    assert.deepEqual(entries(err).map((entry) => entry.details[0]), [0, 1, 2, 3, 4, "still written"]);

    await delay(500);
    const report = entries(err).filter((entry) => entry.event === SUPPRESSED);
    assert.deepEqual(report.map((entry) => [entry.level, entry.details[0]]), [
      ["warn", { event: "peer-not-reading", lines: 995, withinMs: 300 }],
    ]);

    log.warn("peer-not-reading", "a new window");
    assert.equal(entries(err).at(-1).details[0], "a new window");
    assert.equal(err.length, 8);
  });

  it("limits info lines too (peers cause them), but never debug lines", () => {
    const { log, out, entries } = captured({ level: "debug", rateLimit: { lines: 3, windowMs: 60_000 } });
    for (let i = 0; i < 100; i++) log.info("onRead", i);
    for (let i = 0; i < 100; i++) log.debug("Distributor Notification", i);
    const counted = entries(out);
    assert.equal(counted.filter((entry) => entry.event === "onRead").length, 3);
    assert.equal(counted.filter((entry) => entry.event === "Distributor Notification").length, 100);
  });

  it("writes every line when the limit is turned off", () => {
    const { log, err } = captured({ rateLimit: false });
    for (let i = 0; i < 500; i++) log.warn("bad frame from", i);
    assert.equal(err.length, 500);
  });
});

describe("child loggers", () => {
  const fields = { requestId: "r-7", traceId: "4bf92f3577b34da6a3ce929d0e0e4736" };

  it("carry their fields as top-level keys of each JSON line, after the line's own, never over them", () => {
    const { log, out, err, entries } = captured();
    const child = log.child(fields);
    child.info("handled", { route: "GET/goods" });
    child.child({ requestId: "r-8", hop: 2, level: "forged", event: "forged" }).warn("call failed", "goods");
    log.info("plain");
    assert.deepEqual(Object.keys(entries(out)[0]), [
      "time",
      "level",
      "process",
      "event",
      "details",
      ...Object.keys(fields),
    ]);
    assert.deepEqual(entries(out).map(({ event, requestId, traceId }) => [event, requestId, traceId]), [
      ["handled", "r-7", fields.traceId],
      ["plain", undefined, undefined],
    ]);
    const [warned] = entries(err);
    assert.deepEqual([warned.level, warned.event, warned.requestId, warned.traceId, warned.hop], [
      "warn",
      "call failed",
      "r-8",
      fields.traceId,
      2,
    ]);
  });

  it("end a human line with key=value, and leave a line without fields as it was", () => {
    const { log, out } = captured({ format: "human" });
    log.child(fields).info("onCreate", "127.0.0.1", 50123);
    log.info("onCreate", "127.0.0.1", 50123);
    log.child({ id: "a\nforged line", n: 3, nested: { a: [1] }, gone: undefined }).info("odd");
    assert.deepEqual(out, [
      `onCreate 127.0.0.1 50123 requestId=r-7 traceId=${fields.traceId}\n`,
      "onCreate 127.0.0.1 50123\n",
      "odd id=a␊forged line n=3 nested={ a: [ 1 ] }\n",
    ]);
  });

  it("share their parent's level and rate limit", () => {
    const { log, err, out } = captured({ level: "warn", rateLimit: { lines: 3, windowMs: 60_000 } });
    for (let i = 0; i < 10; i++) log.child({ requestId: i }).warn("peer-not-reading", i);
    log.child(fields).info("below the level");
    assert.equal(err.length, 3);
    assert.equal(out.length, 0);
  });

  it("give every written line, as its JSON, to the `also` hook, in either format", () => {
    for (const format of ["human", "json"] as const) {
      const shipped: string[] = [];
      const { log } = captured({ format, also: (line) => shipped.push(line) });
      log.child(fields).info("handled", 1);
      log.debug("below the level");
      const [line] = shipped.map((text) => JSON.parse(text));
      assert.equal(shipped.length, 1, format);
      assert.deepEqual([line.event, line.details, line.traceId, line.process], [
        "handled",
        [1],
        fields.traceId,
        "test",
      ]);
    }
  });

  it("format nothing for a line below the level", () => {
    let formatted = 0;
    const { log } = captured({ level: "info" });
    const costly = { toJSON: () => formatted++ };
    for (let i = 0; i < 1000; i++) log.child({ requestId: i, traceId: fields.traceId }).debug("d", costly);
    assert.equal(formatted, 0);
  });

  it("keep a STAYS_LOCAL child's lines in the node's own log: written, never given to `also`, the mark not shown", () => {
    for (const format of ["human", "json"] as const) {
      const shipped: string[] = [];
      const { log, out } = captured({ format, also: (line) => shipped.push(line) });
      const local = log.child({ [STAYS_LOCAL]: true });
      local.info("dashboard", "http://host:8000/_pilcrow/?token=secret");
      local.child(fields).info("still local");
      log.info("shipped");
      assert.deepEqual(shipped.map((text) => JSON.parse(text).event), ["shipped"], format);
      assert.equal(out.length, 3, format);
      assert.ok(out.every((line) => !/stays local|Symbol/.test(line)), out.join(""));
    }
  });
});

const gate: NodeInfo = { port: 8000, name: "gate", urls: [], pilcrow: 1, host: "127.0.0.1" };
const goods: NodeInfo = {
  port: 9010,
  name: "goods",
  urls: ["POST/goods", "GET/goods", "DELETE/goods", "GET/goods/lookup"],
  pilcrow: 1,
  host: "127.0.0.1",
};
const notification = (params: NodeInfo[]) => ({ uri: "/distributes", method: "GET", key: 0, params });

describe("human log", () => {
  it("keeps the listen line exactly as the book prints it", () => {
    assert.equal(
      humanLine("listen", [{ address: "127.0.0.1", family: "IPv4", port: 9000 }]),
      "listen { address: '127.0.0.1', family: 'IPv4', port: 9000 }",
    );
  });

  it("prints a registration as the book's onRead, params in full", () => {
    const packet = { uri: "/distributes", method: "POST", key: 0, params: gate };
    assert.equal(
      humanLine("onRead", ["127.0.0.1", 50721, packet]),
      `onRead 127.0.0.1 50721 {
  uri: '/distributes',
  method: 'POST',
  key: 0,
  params: { port: 8000, name: 'gate', urls: [], pilcrow: 1, host: '127.0.0.1' }
}`,
    );
  });

  it("prints a notification's entries as Node's console does: urls: [Array] past depth 2", () => {
    // What the distributor logs at info: the entries that changed.
    assert.equal(
      humanLine("Distributor Notification", [describeChange([gate], [gate, goods])]),
      `Distributor Notification {
  nodes: 2,
  added: [ { port: 9010, name: 'goods', urls: [Array], pilcrow: 1, host: '127.0.0.1' } ]
}`,
    );
    // What every node logs at debug: the whole list, as the book's nodes print it.
    assert.equal(
      humanLine("Distributor Notification", [notification([gate, goods])]),
      `Distributor Notification {
  uri: '/distributes',
  method: 'GET',
  key: 0,
  params: [
    { port: 8000, name: 'gate', urls: [], pilcrow: 1, host: '127.0.0.1' },
    { port: 9010, name: 'goods', urls: [Array], pilcrow: 1, host: '127.0.0.1' }
  ]
}`,
    );
  });

  it("says what changed between lists, and nothing when nothing did", () => {
    const leaving = { ...goods, urls: [] };
    assert.deepEqual(describeChange([gate, goods], [gate, leaving]), { nodes: 2, changed: [leaving] });
    assert.deepEqual(describeChange([gate, goods], [gate]), { nodes: 1, removed: [goods] });
    assert.equal(describeChange([gate, goods], [goods, gate]), undefined);
    const many = Array.from({ length: 25 }, (_, index) => ({ ...goods, port: 10_000 + index }));
    const change = describeChange([], many)!;
    assert.equal(change.added!.length, 11);
    assert.equal(change.added!.at(-1), "… 15 more");
  });

  it("cannot be made to break a line or forge one, whatever the details hold", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const forged = "x\nonCreate 10.0.0.1 1\r\u001b[2K\u2028\u0085";
    const hostile: unknown[][] = [
      [forged],
      [{ name: forged, [forged]: forged, nested: [[forged]] }],
      [new Error(forged)],
      [{ cause: new Error(forged) }],
      [cyclic],
      [Array.from({ length: 100_000 }, (_, index) => index)],
      [Object.fromEntries(Array.from({ length: 10_000 }, (_, index) => [`key${index}`, forged]))],
      ["y".repeat(1_000_000)],
      [{ deep: JSON.parse("[".repeat(5000) + "]".repeat(5000)) }],
    ];
    for (const details of hostile) {
      const [first, ...rest] = humanLine(forged, details).split("\n");
      assert.ok(first.startsWith("x␊onCreate 10.0.0.1 1␍␛[2K"), first.slice(0, 80));
      for (const line of rest) assert.match(line, /^( |\}|\])/, `a line of ${JSON.stringify(details).slice(0, 60)}`);
      const text = [first, ...rest].join("");
      assert.doesNotMatch(text, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      assert.ok(text.length < 20_000, `${text.length} characters`);
    }
    assert.equal(humanLine("cycle", [cyclic]), "cycle <ref *1> { name: 'loop', self: [Circular *1] }");
  });

  it("writes the same text on every runtime, odd values included", () => {
    const sample = {
      text: "tab\there 'quoted' \\ \u0000\u007f",
      numbers: [1, -0, NaN, 2n ** 70n, 1e21],
      nothing: [null, undefined],
      when: new Date(0),
      map: new Map([["a", 1]]),
      set: new Set(["b"]),
      bytes: new Uint8Array([1, 2]),
      bare: Object.assign(Object.create(null), { a: 1 }),
      deep: { a: { b: { c: 1 } } },
      sparse: [1, , 3],
      long: Array.from({ length: 120 }, (_, index) => index),
    };
    assert.equal(
      humanLine("sample", [sample, true, 7, null, undefined]),
      `sample {
  text: "tab␉here 'quoted' \\\\ ␀␡",
  numbers: [ 1, -0, NaN, 1180591620717411303424n, 1e+21 ],
  nothing: [ null, undefined ],
  when: 1970-01-01T00:00:00.000Z,
  map: Map(1) { 'a' => 1 },
  set: Set(1) { 'b' },
  bytes: Uint8Array(2) [ 1, 2 ],
  bare: [Object: null prototype] { a: 1 },
  deep: { a: { b: [Object] } },
  sparse: [ 1, <1 empty item>, 3 ],
  long: [
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11,
    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
    24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
    36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
    48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
    60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71,
    72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83,
    84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
    96, 97, 98, 99,
    ... 20 more items
  ]
} true 7 null undefined`,
    );
  });
});

/** Real processes (JSON lines, so each entry's level and process are known): who logs a notification, and how often. */
describe("notifications in the log", () => {
  const started: RunningProcess[] = [];
  after(() => stopAll(started));

  async function mesh(level: string): Promise<{ distributor: RunningProcess; nodes: RunningProcess[] }> {
    const env = { PILCROW_LOG_LEVEL: level };
    const distributor = await startProcess("distributor.ts", ["0"], { env });
    started.push(distributor);
    const meshArgs = ["--distributor", `127.0.0.1:${distributor.port}`];
    const nodes = await Promise.all([
      startProcess("gate.ts", ["0", ...meshArgs], { env }),
      startProcess("goods.ts", ["0", ...meshArgs], { env }),
    ]);
    started.push(...nodes);
    await eventually(() => addedNames(distributor).length === 2 || undefined, 10_000, "both nodes listed");
    await nodes[0].waitForEvent("instance connected");
    return { distributor, nodes };
  }

  const notifications = (running: RunningProcess) =>
    running.entries.filter((entry) => entry.event === "Distributor Notification");
  const addedNames = (running: RunningProcess) =>
    notifications(running).flatMap((entry) =>
      ((entry.details[0] as { added?: NodeInfo[] }).added ?? []).map((node) => node.name)
    );

  it("at info, only the distributor logs each change, once; each node says once that it is connected", async () => {
    const { distributor, nodes } = await mesh("info");
    await delay(300);
    assert.deepEqual(addedNames(distributor).sort(), ["gate", "goods"]);
    assert.ok(notifications(distributor).every((entry) => entry.level === "info"));
    const [added] = notifications(distributor).map((entry) => entry.details[0] as { added: NodeInfo[] });
    assert.ok(added.added[0].urls, "JSON keeps every detail");
    for (const node of nodes) {
      assert.deepEqual(notifications(node), [], `${node.name} logs no notification at info`);
      assert.equal(node.entries.filter((entry) => entry.event === "distributor connected").length, 1);
    }
    await stopAll([...nodes, distributor]);
  });

  it("at debug, every node logs the whole list it gets, once per list", async () => {
    const { distributor, nodes } = await mesh("debug");
    for (const node of nodes) {
      const lists = notifications(node);
      assert.ok(lists.length > 0 && lists.every((entry) => entry.level === "debug"), node.name);
      const last = lists.at(-1)!.details[0] as { params: NodeInfo[] };
      assert.deepEqual(last.params.map((entry) => entry.name).sort(), ["gate", "goods"]);
      const received = lists.map((entry) => JSON.stringify(entry.details));
      assert.equal(new Set(received).size, received.length, `${node.name} logs no list twice`);
    }
    assert.ok(notifications(distributor).every((entry) => entry.level === "info"));
    await stopAll([...nodes, distributor]);
  });
});
