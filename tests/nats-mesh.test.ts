/**
 * The NATS mesh (`--mesh nats://…`), with real processes on a real nats-server: what the TCP mesh does, it does —
 * the book's flow, round robin per route, 404, 503, 504, an instance that vanishes failing fast with its request
 * sent elsewhere, a frozen one dropped within three heartbeats, a rolling restart with no 5xx, calls between
 * services — and a gateway on both meshes routes to a book-protocol TCP service and NATS services side by side.
 * Each test has a mesh name of its own, so tests sharing one server never see each other's instances.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { BookPeer, registration } from "./support/book-peer.ts";
import { answer, startBookService } from "./support/book-service.ts";
import { closed, lines, runApiClient, startLauncher, waitForLine } from "./support/launcher.ts";
import { sharedNats, skipWithoutNats } from "./support/private-nats.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, type MeshSystem, newMeshName, runSpecFlow, startNatsSystem } from "./support/system.ts";

const NATS_URL = (await sharedNats()) ?? "";
/**
 * A short heartbeat, for the test that freezes an instance only: elsewhere a loaded CI machine can stall a process
 * just starting for three such beats, and the gateway would rightly drop an instance the test counts on.
 */
const FAST_BEAT_MS = 200;
/** Three quiet intervals, one interval of check granularity, and room for a loaded 2-core machine. */
const FOUND_WITHIN_MS = 5 * FAST_BEAT_MS + 1500;

/** A gateway and `count` who instances on a new mesh of their own, with the default heartbeat unless told. */
async function whoMesh(count: number, beatMs?: number) {
  const name = newMeshName();
  const env = { PILCROW_MESH_NAME: name };
  const mesh = ["--mesh", NATS_URL, ...(beatMs ? ["--heartbeat", String(beatMs)] : [])];
  const gate = await startProcess("gate.ts", ["0", ...mesh, "--timeout", "1000"], { env });
  const startWho = () => startProcess("tests/support/who-service.ts", ["0", ...mesh], { env });
  const instances = await Promise.all(Array.from({ length: count }, startWho));
  const url = `http://127.0.0.1:${gate.port}`;
  const system = { gate, url } as MeshSystem;
  await gate.waitFor(() => gate.entries.filter((entry) => entry.event === "instance connected").length >= count);
  return {
    name,
    gate,
    instances,
    system,
    startWho,
    who: async (method = "GET", ms = 0) => {
      const started = Date.now();
      const response = await call(system, method, `/who?ms=${ms}`, method === "POST" ? { ms } : undefined);
      return { ...response, tookMs: Date.now() - started };
    },
    stop: () => stopAll([...instances, gate]),
  };
}

describe("NATS mesh", { skip: skipWithoutNats }, () => {
  it("runs the book's flow with no distributor; a route never served is 404", async () => {
    const system = await startNatsSystem({ nats: { url: NATS_URL, name: newMeshName() } });
    try {
      // A service on NATS listens on no port: reached by its subject only, it has no door outside NATS's guard.
      for (const [name, service] of system.services) {
        const listen = service.entries.find((entry) => entry.event === "listen")!;
        assert.deepEqual(Object.keys(listen.details[0] as object), ["subject"], `${name}: ${JSON.stringify(listen)}`);
      }
      const bodies = await runSpecFlow(system);
      assert.equal(bodies[4].errorcode, 0, JSON.stringify(bodies[4]));
      const unknown = await call(system, "GET", "/nothing");
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    } finally {
      await system.stop();
    }
  });

  it("chooses round robin per route; a killed instance fails fast and its GET and POST go to another; 503 when none is left", async () => {
    const mesh = await whoMesh(2);
    try {
      const pids = [];
      for (const method of ["GET", "POST", "GET", "POST"]) {
        const response = await mesh.who(method);
        assert.equal(response.status, 200, JSON.stringify(response.body));
        pids.push(response.body.pid);
      }
      assert.notEqual(
        pids[0],
        pids[2],
        `GET alternates: ${pids} ${JSON.stringify(mesh.gate.entries.map((e) => e.event))}`,
      );
      assert.notEqual(pids[1], pids[3], "POST alternates");
      assert.equal(new Set(pids).size, 2);

      const [victim, survivor] = mesh.instances;
      victim.signal("SIGKILL");
      await victim.exited;
      // NATS answers "no responders" at once: nothing was delivered, so a POST is as safe to send elsewhere as a GET.
      const after = new Set();
      for (const method of ["GET", "POST", "GET", "POST"]) {
        const response = await mesh.who(method);
        assert.equal(response.status, 200, `${method}: ${JSON.stringify(response.body)}`);
        assert.ok(response.tookMs < 500, `${method} took ${response.tookMs} ms`);
        after.add(response.body.pid);
      }
      assert.equal(after.size, 1, "all from the survivor");
      await mesh.gate.waitFor((entry) => entry.event === "instance removed", 2000);

      survivor.signal("SIGKILL");
      await survivor.exited;
      const none = await mesh.who("GET");
      assert.equal(none.status, 503, JSON.stringify(none.body));
      assert.ok(none.tookMs < 500, `503 took ${none.tookMs} ms`);
    } finally {
      await mesh.stop();
    }
  });

  it("answers 504 when the instance does not answer within the gateway's timeout", async () => {
    const mesh = await whoMesh(1);
    try {
      const late = await mesh.who("GET", 1500);
      assert.equal(late.status, 504, JSON.stringify(late.body));
      assert.ok(late.tookMs >= 900 && late.tookMs < 2000, `took ${late.tookMs} ms`);
    } finally {
      await mesh.stop();
    }
  });

  it("drops a frozen instance within three heartbeats and takes it back when it thaws", async () => {
    const mesh = await whoMesh(2, FAST_BEAT_MS);
    const [frozen] = mesh.instances;
    try {
      const from = mesh.gate.entries.length;
      const frozenAt = Date.now();
      frozen.signal("SIGSTOP");
      await mesh.gate.waitFor((entry) => entry.event === "no heartbeat from instance", FOUND_WITHIN_MS, from);
      assert.ok(Date.now() - frozenAt < FOUND_WITHIN_MS, `found after ${Date.now() - frozenAt} ms`);
      for (let i = 0; i < 10; i++) {
        const response = await mesh.who("GET");
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.ok(response.tookMs < 500, `request ${i} took ${response.tookMs} ms`);
      }
      const back = mesh.gate.entries.length;
      frozen.signal("SIGCONT");
      await mesh.gate.waitFor((entry) => entry.event === "instance connected", 5000, back);
    } finally {
      frozen.signal("SIGCONT");
      await mesh.stop();
    }
  });

  it("restarts every instance in turn under steady load with no 5xx", async () => {
    const mesh = await whoMesh(2);
    const statuses = new Map<number | string, number>();
    let stopped = false;
    const loops = Array.from({ length: 4 }, async (_, worker) => {
      for (let n = 0; !stopped; n++) {
        const outcome = await Promise.race([
          mesh.who(n % 2 === 0 ? "GET" : "POST", worker).then((response) => response.status),
          delay(5000).then(() => "hung"),
        ]);
        statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
      }
    });
    try {
      await delay(300);
      for (let index = 0; index < mesh.instances.length; index++) {
        const back = mesh.gate.entries.length;
        assert.equal(await mesh.instances[index].stop(10_000), 0, "stops cleanly");
        mesh.instances[index] = await mesh.startWho();
        await mesh.gate.waitFor((entry) => entry.event === "instance connected", 10_000, back);
        await delay(300);
      }
    } finally {
      stopped = true;
      await Promise.all(loops);
      await mesh.stop();
    }
    const counts = Object.fromEntries(statuses);
    assert.deepEqual(Object.keys(counts), ["200"], JSON.stringify(counts));
    assert.ok(counts[200] > 50, JSON.stringify(counts));
  });

  it("carries calls between services", async () => {
    const name = newMeshName();
    const env = { PILCROW_MESH_NAME: name };
    const mesh = ["--mesh", NATS_URL];
    const processes: RunningProcess[] = [];
    try {
      processes.push(await startProcess("gate.ts", ["0", ...mesh], { env }));
      processes.push(await startProcess("tests/support/nap-service.ts", ["0", ...mesh], { env }));
      processes.push(await startProcess("tests/support/relay-service.ts", ["0", ...mesh], { env }));
      const system = { url: `http://127.0.0.1:${processes[0].port}` } as MeshSystem;
      const relayed = await eventually(
        async () => {
          const response = await call(system, "GET", "/relay/nap?ms=5&waitMs=0");
          return response.status === 200 && response.body.call?.errorcode === 0 ? response.body : undefined;
        },
        10_000,
        "a call through relay to nap",
      );
      assert.equal(relayed.slept, 5);
    } finally {
      await stopAll(processes);
    }
  });

  it("a gateway on both meshes routes to a book-protocol TCP service and NATS instances side by side", async () => {
    const name = newMeshName();
    const env = { PILCROW_MESH_NAME: name };
    const distributor = await startProcess("distributor.ts", ["0"]);
    const book = await startBookService((packet, socket) => socket.write(answer(packet, { pid: "book" })));
    let node: BookPeer | undefined;
    const processes: RunningProcess[] = [distributor];
    try {
      const both = ["--distributor", `127.0.0.1:${distributor.port}`, "--mesh", NATS_URL];
      const gate = await startProcess("gate.ts", ["0", ...both], { env });
      processes.push(gate);
      processes.push(await startProcess("tests/support/who-service.ts", ["0", "--mesh", NATS_URL], { env }));
      node = await BookPeer.connect(distributor.port);
      node.send(registration("who", book.port, ["GET/who", "POST/who"]));
      await gate.waitFor(() => gate.entries.filter((entry) => entry.event === "instance connected").length >= 2);
      const system = { url: `http://127.0.0.1:${gate.port}` } as MeshSystem;
      const from = new Set();
      for (let i = 0; i < 4; i++) {
        const response = await call(system, "GET", "/who");
        assert.equal(response.status, 200, JSON.stringify(response.body));
        from.add(response.body.pid === "book" ? "book" : "nats");
      }
      assert.deepEqual([...from].sort(), ["book", "nats"]);
    } finally {
      node?.close();
      await book.close();
      await stopAll(processes.reverse());
    }
  });

  it("a node waiting for NATS to come stops at once when asked, with exit 0", async () => {
    // Nothing answers on this port: the node keeps trying, as it does for a server that is not up yet.
    const nowhere = "nats://127.0.0.1:9";
    for (const entry of ["gate.ts", "goods.ts"]) {
      const node = await startProcess(entry, ["0", "--mesh", nowhere], { waitForListen: false });
      try {
        await node.waitForEvent("NATS not reachable yet", 10_000);
        const asked = Date.now();
        node.signal("SIGTERM");
        assert.equal(await node.exited, 0, `${entry}: ${node.output.join("\n")}`);
        assert.ok(Date.now() - asked < 3000, `${entry} took ${Date.now() - asked} ms to stop`);
      } finally {
        await stopAll([node]);
      }
    }
  });

  it(
    "the launcher with --mesh starts no distributor, serves the book's API client, and keeps NATS settings out of argv",
    {
      timeout: 120_000,
    },
    async () => {
      const launcher = await startLauncher(["--ports", "free", "--mesh", NATS_URL, "--mesh-name", newMeshName()]);
      try {
        const port = Number(
          (await waitForLine(launcher, /^Pilcrow is up: gateway on http:\/\/127\.0\.0\.1:(\d+)$/))[1],
        );
        const pids = lines(launcher).flatMap((line) => {
          const match = /^(\S+) started \(pid (\d+)/.exec(line);
          return match ? [{ name: match[1], pid: Number(match[2]) }] : [];
        });
        assert.deepEqual(pids.map(({ name }) => name).sort(), ["gate", "goods", "members", "purchases"]);
        for (const { name, pid } of pids) {
          const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
          assert.ok(!argv.some((arg) => /mesh|nats/.test(arg)), `${name}'s argv: ${argv.join(" ")}`);
          const environment = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
          assert.ok(environment.includes(`PILCROW_MESH=${NATS_URL}`), `${name} is given the mesh in its environment`);
        }
        // The gateway routes to every service once each has announced itself (the client needs all three).
        const system = { url: `http://127.0.0.1:${port}` } as MeshSystem;
        for (const path of ["/goods", "/members?username=a&password=b", "/purchases?userid=1"]) {
          await eventually(async () => (await call(system, "GET", path)).status === 200 || undefined, 10_000, path);
        }
        const client = await runApiClient(port);
        assert.equal(client.code, 0, client.output.join("\n"));
        const exit = closed(launcher);
        launcher.signal("SIGTERM");
        assert.equal(await exit, 0);
        for (const { name, pid } of pids) {
          assert.ok(
            !existsSync(`/proc/${pid}/cmdline`) || !isRunning(pid),
            `${name} stopped`,
          );
        }
      } finally {
        await stopAll([launcher]);
      }
    },
  );
});

/** Whether a process is alive (not a zombie waiting for its parent). */
function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
