/**
 * Whatever anyone with access to the NATS server publishes on a mesh's subjects: announcements that are not JSON,
 * not announcements, too large, or that name a subject outside the mesh; requests to an instance that are not
 * packets, or expect no reply; a flood of hellos. Each gets a clear refusal (an error answer, a warning) and the
 * mesh goes on routing. Run with a raw NATS client, as an intruder would.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sharedNats, skipWithoutNats } from "./support/private-nats.ts";
import { type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, type MeshSystem, newMeshName } from "./support/system.ts";

const NATS_URL = (await sharedNats()) ?? "";

describe("hostile input on the NATS mesh", { skip: skipWithoutNats }, () => {
  const name = newMeshName();
  const env = { PILCROW_MESH_NAME: name };
  let intruder: NatsConnection;
  let gate: RunningProcess;
  let who: RunningProcess;
  let system: MeshSystem;
  /** The who instance's subject, as the gateway logged it. */
  let subject: string;

  before(async () => {
    const mesh = ["--mesh", NATS_URL];
    gate = await startProcess("gate.ts", ["0", ...mesh], { env });
    who = await startProcess("tests/support/who-service.ts", ["0", ...mesh], { env });
    const connected = await gate.waitForEvent("instance connected", 10_000);
    subject = connected.details[0] as string;
    system = { url: `http://127.0.0.1:${gate.port}` } as MeshSystem;
    intruder = await connect({ servers: NATS_URL });
  });

  after(async () => {
    await intruder?.close();
    await stopAll([who, gate]);
  });

  const routes = async () => {
    const response = await call(system, "GET", "/who");
    assert.equal(response.status, 200, JSON.stringify(response.body));
  };

  it("ignores announcements that are not JSON, not announcements, too large or outside the mesh, with a warning", async () => {
    const invalid = (node: RunningProcess) =>
      node.entries.filter((entry) => entry.event === "invalid announcement on NATS");
    // The gateway started first: NATS's "no responders" to its hello is no announcement, and no cause for a warning.
    assert.deepEqual(invalid(gate), []);
    const from = gate.entries.length;
    const bad = [
      "not json",
      "[1,2]",
      JSON.stringify({ subject: `${name}.i.x`, name: "who", urls: "GET/who", pilcrow: 1 }),
      JSON.stringify({ subject: "elsewhere.i.x", name: "who", urls: ["GET/who"], pilcrow: 1 }),
      JSON.stringify({ subject: `${name}.i.a.b`, name: "who", urls: ["GET/who"], pilcrow: 1 }),
      JSON.stringify({ subject: `${name}.i.x`, name: "x".repeat(20_000), urls: ["GET/who"], pilcrow: 1 }),
    ];
    for (const text of bad) intruder.publish(`${name}.presence`, text);
    await intruder.flush();
    await gate.waitFor(
      () =>
        gate.entries.slice(from).filter((entry) => entry.event === "invalid announcement on NATS").length >= bad.length,
      5000,
    );
    for (let i = 0; i < 4; i++) await routes();
    // An instance that calls nobody keeps no table, so it does not even read them.
    assert.deepEqual(invalid(who), []);
  });

  it("an announced instance that does not exist costs one request a detour, not an error", async () => {
    intruder.publish(
      `${name}.presence`,
      JSON.stringify({ subject: `${name}.i.ghost`, name: "who", urls: ["GET/who", "POST/who"], pilcrow: 1 }),
    );
    await intruder.flush();
    // The ghost is pinged (no responders) and dropped; a request that picks it first goes on to the real one.
    for (let i = 0; i < 6; i++) await routes();
    const post = await call(system, "POST", "/who", {});
    assert.equal(post.status, 200, JSON.stringify(post.body));
  });

  it("answers a request that is not a JSON packet with an error packet, and ignores one that wants no reply", async () => {
    for (const text of ["nope", "[]", "42", "\u0000\u00ff"]) {
      const reply = await intruder.request(subject, text, { timeout: 2000 });
      const packet = JSON.parse(reply.string());
      assert.equal(packet.errorcode, 1, reply.string());
      assert.match(packet.errormessage, /not a JSON packet/);
    }
    intruder.publish(subject, JSON.stringify({ uri: "/who", method: "GET", key: 1, params: {} }));
    const reply = await intruder.request(
      subject,
      JSON.stringify({ uri: "/nowhere", method: "GET", key: 2, params: {} }),
      {
        timeout: 2000,
      },
    );
    assert.equal(JSON.parse(reply.string()).errorcode, 1, reply.string());
    await routes();
    assert.ok(who.running, "the instance still runs");
  });

  it("a flood of hellos is answered and routing goes on", async () => {
    const inbox = intruder.subscribe("_INBOX.flood.*");
    for (let i = 0; i < 2000; i++) intruder.publish(`${name}.hello`, "", { reply: `_INBOX.flood.${i}` });
    await intruder.flush();
    await routes();
    inbox.unsubscribe();
    assert.ok(gate.running && who.running);
  });
});
