/**
 * The mesh core against real processes: a distributor and instances (tests/support/mesh-instance.ts) whose
 * answers each test chooses, all with the mesh secret; the core itself runs in the test, as a node that calls
 * them. Round robin per route with keys counting up from 0, a GET sent again when its instance dies under it
 * (a POST not), the caller's deadline honoured and passed on, busy refusals sent on to another instance, and
 * each failure as its MeshError.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { MeshError } from "../lib/mesh/core.ts";
import { joinMesh, type Mesh } from "../lib/mesh/mesh.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";

const SECRET = "mesh-core-test-secret-3f9a1c";
const env = { PILCROW_SECRET: SECRET };
const log = createLogger({ name: "mesh-test", level: "error" });

describe("mesh core", () => {
  let distributor: RunningProcess;
  let mesh: Mesh;
  const processes: RunningProcess[] = [];

  before(async () => {
    distributor = await startProcess("distributor.ts", ["0"], { env });
    mesh = joinMesh({
      distributor: { hostname: "127.0.0.1", port: distributor.port },
      // A caller serves nothing; the port it registers is never dialled.
      self: { port: 1, name: "caller", urls: [] },
      log,
      secret: SECRET,
      connectTo: (node) => node.name !== "ignored",
    });
  });

  after(async () => {
    mesh?.close();
    await stopAll([...processes, distributor]);
  });

  async function startInstances(name: string, count: number, flags: string[] = []): Promise<RunningProcess[]> {
    const args = ["0", "--distributor", `127.0.0.1:${distributor.port}`, "--name", name, ...flags];
    const started = await Promise.all(
      Array.from({ length: count }, () => startProcess("tests/support/mesh-instance.ts", args, { env })),
    );
    processes.push(...started);
    return started;
  }

  /** Waits until the core has `count` live instances of `name` (connected, authenticated, answered a ping). */
  async function ready(name: string, count: number): Promise<void> {
    const live = () => mesh.status().instances.filter((instance) => instance.name === name && instance.ready);
    await eventually(() => live().length >= count || undefined, 10_000, `${count} live ${name} instance(s)`);
  }

  /** The requests an instance logged. */
  const requests = (instance: RunningProcess) => instance.entries.filter((entry) => entry.event === "request");

  /** The failure a request ends in (it must fail), and how long it took. */
  async function failure(promise: Promise<unknown>): Promise<{ error: MeshError; ms: number }> {
    const started = Date.now();
    const error = await promise.then(() => assert.fail("the request succeeded"), (error) => error);
    assert.ok(error instanceof MeshError, String(error));
    return { error, ms: Date.now() - started };
  }

  const soon = () => ({ deadline: Date.now() + 5000 });

  it("chooses round robin per route, with keys counting up from 0 in the book's packet shape", async () => {
    const instances = await startInstances("rr", 2);
    await ready("rr", 2);
    const answers = [];
    for (const route of ["GET/rr", "POST/rr", "GET/rr", "POST/rr", "GET/rr", "POST/rr"]) {
      answers.push((await mesh.request(route, { n: 1 }, soon())).packet);
    }
    assert.deepEqual(answers.map((answer) => answer.key), [0, 1, 2, 3, 4, 5], "keys from 0, taken from params.key");
    const ports = answers.map((answer) => answer.port as number);
    const [get, post] = [ports.filter((_, i) => i % 2 === 0), ports.filter((_, i) => i % 2 === 1)];
    assert.deepEqual(get, [get[0], get[1], get[0]], "GET alternates");
    assert.notEqual(get[0], get[1]);
    assert.deepEqual(post, get, "POST has its own turn: it starts where GET started");
    assert.deepEqual(new Set(ports), new Set(instances.map((instance) => instance.port)));
    const seen = instances.flatMap(requests).map((entry) => entry.details[0] as { key: number; timeout: number });
    assert.deepEqual(seen.map((packet) => packet.key).sort(), [0, 1, 2, 3, 4, 5], "the key at the top level too");
    assert.ok(seen.every((packet) => packet.timeout > 4000 && packet.timeout <= 5000), "timeout: the ms left");
  });

  it("sends a GET again to another instance when its own dies under it; a POST fails at once as lost", async () => {
    const instances = await startInstances("failover", 2);
    await ready("failover", 2);
    /** The instance a request sent now reaches: the first to log one more request than it had. */
    const receiver = async () => {
      const before = instances.map((instance) => requests(instance).length);
      return () =>
        eventually(() => instances.find((instance, n) => requests(instance).length > before[n]), 5000, "a request");
    };
    const firstReceiver = await receiver();
    const get = mesh.request("GET/failover", { ms: 400 }, soon());
    const first = await firstReceiver();
    first.signal("SIGKILL");
    const other = instances.find((instance) => instance !== first)!;
    const answer = await get;
    assert.equal(answer.packet.port, other.port, "answered by the instance still alive");
    assert.equal(requests(other).length, 1, "sent again once");

    // The one left takes the POST and dies under it: not sent again (it may have been done), failed at once.
    await ready("failover", 1);
    const postReceiver = await receiver();
    const post = failure(mesh.request("POST/failover", { ms: 5000 }, soon()));
    const taker = await postReceiver();
    assert.equal(taker, other);
    const killedAt = Date.now();
    taker.signal("SIGKILL");
    const { error } = await post;
    assert.equal(error.failure, "lost");
    assert.match(error.message, /lost during POST \/failover/);
    assert.ok(Date.now() - killedAt < 1500, `failed ${Date.now() - killedAt} ms after the kill, not at the deadline`);

    const gone = await eventually(
      async () => {
        const { error } = await failure(mesh.request("GET/failover", {}, soon()));
        return error.failure === "no-instance" ? error : undefined;
      },
      10_000,
      "no live instance",
    );
    assert.equal(gone.retryAfter, 1);
  });

  it("honours the caller's deadline: 10 ms left fails fast and is sent with 10 ms; none left is not sent", async () => {
    const [instance] = await startInstances("deadline", 1);
    await ready("deadline", 1);
    const { error, ms } = await failure(mesh.request("GET/deadline", { ms: 2000 }, { deadline: Date.now() + 10 }));
    assert.equal(error.failure, "timeout");
    assert.ok(ms < 500, `failed after ${ms} ms`);
    const sent = await eventually(() => requests(instance)[0]?.details[0] as { timeout: number } | undefined);
    assert.ok(sent.timeout > 0 && sent.timeout <= 10, `sent with timeout ${sent.timeout}`);

    const late = await failure(mesh.request("GET/deadline", {}, { deadline: Date.now() - 1 }));
    assert.equal(late.error.failure, "timeout");
    assert.ok(late.ms < 50, `failed after ${late.ms} ms`);
    await delay(200);
    assert.equal(requests(instance).length, 1, "a request with no time left is never sent");
  });

  it("sends a busy refusal on to another instance, whatever the method; all busy is MeshError busy", async () => {
    const [refusing] = await startInstances("busy", 1, ["--busy"]);
    const [taking] = await startInstances("busy", 1);
    await ready("busy", 2);
    for (let i = 0; i < 4; i++) {
      const answer = await mesh.request("POST/busy", { i }, soon());
      assert.deepEqual([answer.packet.errorcode, answer.packet.port], [0, taking.port]);
    }
    assert.ok(requests(refusing).length >= 2, "the refusing instance had its turns");
    assert.equal(requests(taking).length, 4, "each POST was done once");

    taking.signal("SIGKILL");
    const { error } = await eventually(
      async () => {
        const failed = await failure(mesh.request("POST/busy", {}, soon()));
        return failed.error.failure === "busy" ? failed : undefined;
      },
      10_000,
      "only the busy instance left",
    );
    assert.equal(error.retryAfter, 2);
    assert.equal(error.message, "service busy: busy refuses all");
    assert.equal(JSON.parse(error.answer!.text).errormessage, error.message, "the refusal as the service sent it");
  });

  it("knows only the routes of the nodes it connects to: others are unknown", async () => {
    const [ignored] = await startInstances("ignored", 1);
    await distributor.waitFor((entry) => entry.event === "onRead" && JSON.stringify(entry.details).includes("ignored"));
    await delay(300);
    assert.deepEqual(mesh.status().instances.filter((instance) => instance.name === "ignored"), []);
    const { error } = await failure(mesh.request("GET/ignored", {}, soon()));
    assert.equal(error.failure, "unknown-route");
    assert.equal(requests(ignored).length, 0);
    assert.equal((await failure(mesh.request("GET/never-served", {}, soon()))).error.failure, "unknown-route");
  });
});
