/**
 * W3C Trace Context through the mesh: the gateway takes `traceparent` (or starts a trace), every hop passes it on,
 * and the answer carries it. With OTEL_EXPORTER_OTLP_ENDPOINT set, every process exports its spans over OTLP/HTTP:
 * a small receiver here collects them, and the test checks that they make one tree — the gateway's request, each
 * mesh hop, each handler, the call purchases makes to goods, and the store's statements.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { newTrace, parseTraceparent } from "../lib/trace/traceparent.ts";
import { eventually, startProcess } from "./support/processes.ts";
import { call, startSystem, type System } from "./support/system.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";
const HEADER = `00-${TRACE_ID}-${PARENT_ID}-01`;

describe("traceparent", () => {
  it("reads a valid header and writes it back the same", () => {
    assert.deepEqual(parseTraceparent(HEADER), { traceId: TRACE_ID, spanId: PARENT_ID, flags: 1, traceparent: HEADER });
    assert.equal(parseTraceparent(`  ${HEADER}  `)?.traceId, TRACE_ID);
    // A later version may add fields: they are ignored, the four known ones read.
    assert.equal(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-00-extra`)?.flags, 0);
    // Flags this version does not define are not passed on.
    assert.equal(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-ff`)?.traceparent, HEADER);
    assert.equal(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-fe`)?.traceparent, HEADER.replace(/01$/, "00"));
    // What goes on is version 00, whatever version came.
    assert.equal(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-01-extra`)?.traceparent, HEADER);
  });

  it("refuses every malformed header (a new trace starts instead)", () => {
    const malformed: unknown[] = [
      undefined,
      42,
      "",
      "00",
      `00-${TRACE_ID}-${PARENT_ID}`,
      `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`,
      `00-${"0".repeat(32)}-${PARENT_ID}-01`,
      `00-${TRACE_ID}-${"0".repeat(16)}-01`,
      `ff-${TRACE_ID}-${PARENT_ID}-01`,
      `00-${TRACE_ID}-${PARENT_ID}-01-more`,
      `00-${TRACE_ID}x-${PARENT_ID}-01`,
      `0-${TRACE_ID}-${PARENT_ID}-01`,
      `00-${TRACE_ID}-${PARENT_ID}-1`,
      `00-${TRACE_ID}-${PARENT_ID}-01\n`.repeat(100),
      `01-${TRACE_ID}-${PARENT_ID}-01${"-x".repeat(300)}`,
    ];
    for (const header of malformed) assert.equal(parseTraceparent(header), undefined, JSON.stringify(header));
  });

  it("makes new traces with ids that are never zero and never repeat", () => {
    const traces = Array.from({ length: 1000 }, newTrace);
    assert.equal(new Set(traces.map((trace) => trace.traceId)).size, 1000);
    for (const trace of traces) assert.deepEqual(parseTraceparent(trace.traceparent), trace, trace.traceparent);
  });
});

describe("traces through a running mesh", () => {
  let system: System;
  before(async () => {
    system = await startSystem({ services: ["goods", "purchases"] });
  });
  after(() => system?.stop());

  it("answers with the caller's traceparent as it came, when nothing records (no SDK: no span of its own)", async () => {
    const response = await fetch(`${system.url}/goods`, { headers: { traceparent: HEADER } });
    await response.body?.cancel();
    assert.equal(response.headers.get("traceparent"), HEADER);
  });

  it("starts a trace for a request without one, or with a malformed one", async () => {
    const cases: Record<string, string>[] = [{}, { traceparent: "00-nonsense" }, {
      traceparent: HEADER.replace("00-", "ff-"),
    }];
    for (const headers of cases) {
      const response = await fetch(`${system.url}/goods`, { headers });
      await response.body?.cancel();
      const answered = parseTraceparent(response.headers.get("traceparent"));
      assert.ok(answered, JSON.stringify(headers));
      assert.notEqual(answered.traceId, TRACE_ID);
    }
  });

  it("carries the trace on failures too (a route nobody serves, a malformed body, one too large)", async () => {
    const tooLarge = JSON.stringify({ name: "x".repeat(200_000) });
    const failures = [["GET", "/nobody", undefined], ["POST", "/goods", "{not json"], ["POST", "/goods", tooLarge]];
    for (const [method, path, body] of failures) {
      const response = await fetch(system.url + path, {
        method,
        headers: { traceparent: HEADER, "content-type": "application/json" },
        body,
      });
      await response.body?.cancel();
      assert.ok(response.status >= 400, `${method} ${path}: ${response.status}`);
      assert.equal(parseTraceparent(response.headers.get("traceparent"))?.traceId, TRACE_ID, `${method} ${path}`);
    }
  });
});

/**
 * User 9 buys a cup, and its history shows the cup: purchases connects to goods on its own, and the history's
 * call works once it has.
 */
async function buyOneCup(system: System): Promise<void> {
  await call(system, "POST", "/goods", { name: "cup", category: "cups", price: 3000, description: "d" });
  await call(system, "POST", "/purchases", { userid: 9, goodsid: 1 });
  await eventually(
    async () => (await call(system, "GET", "/purchases/history?userid=9")).body.errorcode === 0 || undefined,
    10_000,
    "history with goods",
  );
}

/** An OTLP/HTTP receiver: collects the spans every process exports (JSON, as the exporter sends by default). */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
}

function startReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[]; bodies: string[] }> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk) => body += chunk);
    request.on("end", () => {
      bodies.push(`${request.method} ${request.url} ${request.headers["content-type"]}`);
      try {
        for (const resource of JSON.parse(body).resourceSpans ?? []) {
          const service = resource.resource?.attributes?.find((a: { key: string }) => a.key === "service.name")
            ?.value?.stringValue;
          for (const scope of resource.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              const attributes: Record<string, unknown> = {};
              for (const { key, value } of span.attributes ?? []) attributes[key] = Object.values(value)[0];
              spans.push({ ...span, service, attributes });
            }
          }
        }
      } catch {
        // Not JSON: the test fails on what it did not get.
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end("{}");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${port}`, spans, bodies });
    });
  });
}

describe("spans exported over OTLP/HTTP", () => {
  it("make one tree: gateway request, hops, handlers, the call and the store statements", async () => {
    const receiver = await startReceiver();
    const system = await startSystem({
      services: ["goods", "purchases"],
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "100" },
    });
    try {
      await buyOneCup(system);
      const response = await fetch(`${system.url}/purchases/history?userid=9`, { headers: { traceparent: HEADER } });
      assert.equal((await response.json()).errorcode, 0);
      const mine = () => receiver.spans.filter((span) => span.traceId === TRACE_ID);
      const names = () => mine().map((span) => `${span.service}:${span.name}`).sort();
      await eventually(
        () => mine().some((span) => span.service === "goods" && span.attributes["db.system.name"]) || undefined,
        10_000,
        () => `spans of the trace: ${names().join(", ")} (received: ${receiver.bodies.slice(0, 3).join("; ")})`,
      );
      await eventually(() => mine().length >= 7 || undefined, 5000, () => names().join(", "));
      const spans = mine();
      const byId = new Map(spans.map((span) => [span.spanId, span]));
      const parentOf = (span: ReceivedSpan) => span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
      const root = spans.find((span) => span.service === "gate" && span.kind === 2);
      assert.ok(root, `the gateway's request span: ${names().join(", ")}`);
      assert.equal(root.parentSpanId, PARENT_ID, "its parent is the caller's span");
      assert.equal(root.attributes["http.response.status_code"], 200);
      // The answer names the gateway's span.
      assert.equal(parseTraceparent(response.headers.get("traceparent"))?.spanId, root.spanId);
      const handler = spans.find((span) => span.service === "purchases" && span.name === "GET/purchases/history");
      assert.ok(handler, `purchases' handler span: ${names().join(", ")}`);
      const hop = parentOf(handler)!;
      assert.equal(hop?.service, "gate", "the handler is under the gateway's hop to it");
      assert.equal(parentOf(hop), root);
      const theCall = spans.find((span) => span.service === "purchases" && span.name === "call GET/goods/lookup");
      assert.ok(theCall, names().join(", "));
      assert.equal(parentOf(theCall), handler);
      const lookup = spans.find((span) => span.service === "goods" && span.name === "GET/goods/lookup");
      assert.ok(lookup, names().join(", "));
      assert.equal(parentOf(parentOf(lookup)!), theCall, "goods' handler is under purchases' hop, under its call");
      const statement = spans.find((span) => span.service === "goods" && span.attributes["db.system.name"]);
      assert.ok(statement && parentOf(statement) === lookup, "goods' statement is under its handler");
      assert.equal(statement.attributes["db.system.name"], "sqlite");
      assert.ok(
        String(statement.attributes["db.query.text"]).startsWith("SELECT"),
        String(statement.attributes["db.query.text"]),
      );
      const purchasesStatement = spans.find((span) =>
        span.service === "purchases" && span.attributes["db.system.name"]
      );
      assert.ok(
        purchasesStatement && parentOf(purchasesStatement) === handler,
        "purchases' statement is under its handler",
      );
    } finally {
      await system.stop();
      receiver.server.close();
    }
  });
});

describe("trace export misconfigured", () => {
  it("says when spans cannot be sent, never shows credentials, and refuses an endpoint that is no URL", async () => {
    const gate = await startProcess("gate.ts", ["0", "--distributor", "127.0.0.1:1"], {
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://user:s3cr3t@127.0.0.1:1/?api_key=K3Y",
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_EXPORTER_OTLP_TIMEOUT: "1000",
      },
    });
    try {
      await (await fetch(`http://127.0.0.1:${gate.port}/goods`)).body?.cancel();
      const failed = await gate.waitFor((entry) => entry.event === "trace export failed", 10_000);
      assert.match(String(failed.details[0]), /ECONNREFUSED/);
      const exporting = gate.entries.find((entry) => entry.event === "exporting traces");
      assert.equal(exporting?.details[0], "http://127.0.0.1:1/");
      assert.ok(!gate.output.join("\n").includes("s3cr3t") && !gate.output.join("\n").includes("K3Y"));
    } finally {
      await gate.stop();
    }
    const refused = await startProcess("gate.ts", ["0"], {
      waitForListen: false,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" },
    });
    assert.equal(await refused.exited, 2, refused.output.join("\n"));
    assert.match(refused.output.join("\n"), /OTEL_EXPORTER_OTLP_ENDPOINT must be an http/);
  });
});

describe("log lines about a request", () => {
  it("carry its trace id, on the gateway and on each service it reaches", async () => {
    const system = await startSystem({
      services: ["goods", "purchases"],
      gateArgs: ["--timeout", "1500"],
      env: { PILCROW_LOG_LEVEL: "debug" },
    });
    const goods = system.services.get("goods")!;
    const purchases = system.services.get("purchases")!;
    try {
      await buyOneCup(system);
      // Goods frozen: the gateway's request to it and purchases' call to it both time out, and say so.
      goods.signal("SIGSTOP");
      const gateFrom = system.gate.entries.length;
      const purchasesFrom = purchases.entries.length;
      const headers = { traceparent: HEADER };
      const [direct, history] = await Promise.all([
        fetch(`${system.url}/goods`, { headers }),
        fetch(`${system.url}/purchases/history?userid=9`, { headers }),
      ]);
      assert.equal(direct.status, 504);
      assert.equal((await history.json()).errorcode, 1);
      await direct.body?.cancel();
      const gateTimeout = await system.gate.waitFor((entry) => entry.event === "timeout", 3000, gateFrom);
      assert.equal(gateTimeout.traceId, TRACE_ID, JSON.stringify(gateTimeout));
      assert.ok(gateTimeout.requestId, JSON.stringify(gateTimeout));
      const callTimeout = await purchases.waitFor((entry) => entry.event === "timeout", 3000, purchasesFrom);
      assert.equal(callTimeout.traceId, TRACE_ID, JSON.stringify(callTimeout));
      const callFailed = await purchases.waitFor((entry) => entry.event === "call failed", 3000, purchasesFrom);
      assert.equal(callFailed.traceId, TRACE_ID, JSON.stringify(callFailed));
    } finally {
      goods.signal("SIGCONT");
      await system.stop();
    }
  });
});
