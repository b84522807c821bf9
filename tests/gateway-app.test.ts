/**
 * The gateway's HTTP face in-process: the Hono app over a stand-in for the mesh core (an object implementing
 * MeshCore, which answers or fails as each test says). What the app must do itself: read params from the
 * query, JSON or a form, make HEAD a GET, refuse bad bodies (400, 413, 415) without asking the mesh, pass an
 * answer on as it came, and turn each MeshError into its status, body and Retry-After. The end-to-end suites
 * (system, gateway-http, failover) test the same face over real processes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gatewayApp, type GatewayAppOptions } from "../lib/gateway/app.ts";
import { createLogger, type LogStream } from "../lib/log.ts";
import { type MeshAnswer, type MeshCore, MeshError, type MeshRequestOptions } from "../lib/mesh/core.ts";
import { Answer } from "../lib/wire/answer.ts";

interface Request {
  route: string;
  params: Record<string, unknown>;
  options: MeshRequestOptions;
  at: number;
}

/** A mesh core whose every request gets `outcome`'s answer text or error; it records what it was asked. */
class StandInMesh implements MeshCore {
  requests: Request[] = [];
  constructor(public outcome: (route: string) => string | Error = () => `{"key":0,"errorcode":0}`) {}

  request(route: string, params: Record<string, unknown>, options: MeshRequestOptions): Promise<MeshAnswer> {
    this.requests.push({ route, params, options, at: Date.now() });
    const result = this.outcome(route);
    if (result instanceof Error) return Promise.reject(result);
    return Promise.resolve(Answer.parsed(JSON.parse(result), result));
  }
}

const errors: string[] = [];
const sink: LogStream = { write: (line: string) => void errors.push(line) };
const log = createLogger({ name: "gateway-app", level: "error", err: sink });

function appOver(mesh: MeshCore, options: Partial<GatewayAppOptions> = {}) {
  return gatewayApp({ mesh, log, timeoutMs: 3000, bodyLimitBytes: 1024, ...options });
}

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

describe("gateway app over a mesh core", () => {
  it("passes the answer on byte for byte with 200, JSON and the secure headers", async () => {
    const text = `{"key":0,  "errorcode":0,"errormessage":"success","results":[{"name":"¶ \\u00e9"}]}`;
    const app = appOver(new StandInMesh(() => text));
    const response = await app.request("/goods");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.ok(response.headers.get("x-request-id"));
    assert.equal(response.headers.get("retry-after"), null);
    assert.equal(await response.text(), text);
  });

  it("asks for METHOD/path with the query's params (GET, DELETE) and the gateway's deadline", async () => {
    const mesh = new StandInMesh();
    const app = appOver(mesh);
    const before = Date.now();
    await app.request("/goods?id=1&name=%C2%B6");
    await app.request("/goods?id=2", { method: "DELETE" });
    assert.deepEqual(mesh.requests.map(({ route, params }) => [route, { ...params }]), [
      ["GET/goods", { id: "1", name: "¶" }],
      ["DELETE/goods", { id: "2" }],
    ]);
    for (const { options, at } of mesh.requests) {
      assert.ok(options.deadline >= before + 3000 && options.deadline <= at + 3000, JSON.stringify(options));
    }
  });

  it("asks with the params of a JSON body (POST, PUT, any JSON type) or a form", async () => {
    const mesh = new StandInMesh();
    const app = appOver(mesh);
    await app.request("/members", json({ username: "kim", nested: { a: [1] } }));
    await app.request("/members", {
      method: "PUT",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ id: 3 }),
    });
    await app.request("/members", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "username=lee&password=%C2%B6",
    });
    const form = new FormData();
    form.set("username", "park");
    await app.request("/members", { method: "POST", body: form });
    assert.deepEqual(mesh.requests.map(({ route, params }) => [route, { ...params }]), [
      ["POST/members", { username: "kim", nested: { a: [1] } }],
      ["PUT/members", { id: 3 }],
      ["POST/members", { username: "lee", password: "¶" }],
      ["POST/members", { username: "park" }],
    ]);
  });

  it("answers HEAD as the GET without its body", async () => {
    const mesh = new StandInMesh();
    const app = appOver(mesh);
    const response = await app.request("/goods?id=1", { method: "HEAD" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal((await response.arrayBuffer()).byteLength, 0);
    assert.deepEqual(mesh.requests.map(({ route, params }) => [route, { ...params }]), [["GET/goods", { id: "1" }]]);
  });

  it("refuses a bad body with 400, 413 or 415 without asking the mesh", async () => {
    const mesh = new StandInMesh();
    const app = appOver(mesh);
    const cases: [RequestInit, number, RegExp][] = [
      [{ method: "POST", headers: { "content-type": "application/json" }, body: "{oops" }, 400, /malformed JSON/],
      [json([1, 2]), 400, /must be an object/],
      [json({ a: "x".repeat(2000) }), 413, /larger than 1024 bytes/],
      [{ method: "PUT", headers: { "content-type": "text/plain" }, body: "hello" }, 415, /unsupported content type/],
    ];
    for (const [init, status, message] of cases) {
      const response = await app.request("/goods", init);
      assert.equal(response.status, status, String(init.body).slice(0, 40));
      const body = await response.json();
      assert.equal(body.errorcode, 1);
      assert.match(body.errormessage, message);
    }
    assert.deepEqual(mesh.requests, []);
  });

  it("turns each failure of the mesh into its status, body and Retry-After", async () => {
    const refusal = `{"key":4,"errorcode":1,"errormessage":"service busy: 9 in flight","retryAfter":2}`;
    const failures: [MeshError, number, string | undefined][] = [
      [new MeshError("unknown-route", "no service serves GET /nowhere"), 404, undefined],
      [new MeshError("no-instance", "no live instance serves GET /goods", 1), 503, "1"],
      [new MeshError("busy", "service busy: 9 in flight", 2, Answer.parsed(JSON.parse(refusal), refusal)), 503, "2"],
      [new MeshError("busy", "every instance is busy", 7), 503, "7"],
      [new MeshError("timeout", "the service did not answer GET /goods within 3000 ms"), 504, undefined],
      [new MeshError("lost", "connection to the service was lost during POST /goods"), 502, undefined],
      [new MeshError("too-large", "the service's answer to GET /goods was too large to pass on"), 502, undefined],
    ];
    for (const [error, status, retryAfter] of failures) {
      const response = await appOver(new StandInMesh(() => error)).request("/goods");
      const label = `${error.failure}: ${error.message}`;
      assert.equal(response.status, status, label);
      assert.equal(response.headers.get("retry-after"), retryAfter ?? null, label);
      assert.equal(response.headers.get("content-type"), "application/json", label);
      const text = await response.text();
      if (error.answer) assert.equal(text, error.answer.text, "a busy refusal is passed on as the service sent it");
      else assert.deepEqual(JSON.parse(text), { errorcode: 1, errormessage: error.message }, label);
    }
  });

  it("answers 500 without internals when the mesh fails in a way it does not know", async () => {
    errors.length = 0;
    const app = appOver(new StandInMesh(() => new TypeError("secret internals at mesh.ts:42")));
    const response = await app.request("/goods", { headers: { "x-request-id": "r-42" } });
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), { errorcode: 1, errormessage: "internal gateway error" });
    assert.equal(response.headers.get("x-request-id"), "r-42");
    assert.ok(errors.some((line) => line.includes("gateway error") && line.includes("r-42")), errors.join("\n"));
  });

  it("serves the status route only when given what it shows", async () => {
    const mesh = new StandInMesh();
    const hidden = await appOver(mesh).request("/_pilcrow/status");
    assert.equal(hidden.status, 200, "without it, the path is a route like any other");
    assert.deepEqual(mesh.requests.map(({ route }) => route), ["GET/_pilcrow/status"]);
    const shown = await appOver(mesh, { status: () => ({ inFlight: 0, instances: [] }) }).request("/_pilcrow/status");
    assert.deepEqual(await shown.json(), { inFlight: 0, instances: [] });
    assert.equal(mesh.requests.length, 1, "the status route does not ask the mesh");
  });
});
