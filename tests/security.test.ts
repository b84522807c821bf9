/**
 * Mesh security with a secret set: nobody joins or calls the mesh without proving it knows the secret, a
 * recorded handshake cannot be replayed, mesh ports stay on loopback unless guarded, and no secret,
 * password or request body reaches a log line at the default level.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { linkToRegistry } from "../lib/mesh/registry-link.ts";
import { ClientHandshake, handshakeProof, type MeshIdentity, ServerHandshake } from "../lib/tcp/handshake.ts";
import type { Packet } from "../lib/wire/packet.ts";
import { BookPeer, registration } from "./support/book-peer.ts";
import { answer, startBookService } from "./support/book-service.ts";
import { delay, type RunningProcess, startProcess } from "./support/processes.ts";
import { call, startSystem, type System } from "./support/system.ts";

const SECRET = "s3cret-of-the-mesh-7f2a9c";
const PASSWORD = "pw-Zq8sL-unlogged";
const BODY_MARKER = "body-marker-4b1e";
const quiet = createLogger({ name: "test", level: "error" });

function isChallenge(packet: { uri?: string }): boolean {
  return packet.uri === "/_pilcrow/challenge";
}

describe("mesh security", () => {
  let system: System;
  before(async () => {
    system = await startSystem({
      env: { PILCROW_SECRET: SECRET, PILCROW_LOG_LEVEL: "info" },
      gateArgs: ["--cors", "https://shop.example"],
    });
  });
  after(() => system?.stop());

  it("runs the docs/protocol.md §6 flow with every connection authenticated", async () => {
    const flow: [string, string, unknown?][] = [
      ["POST", "/members", { username: "kim", password: PASSWORD, passwordConfirm: PASSWORD }],
      ["GET", `/members?username=kim&password=${PASSWORD}`],
      ["POST", "/goods", { name: "n", category: "c", price: 1, description: BODY_MARKER }],
      ["GET", "/goods"],
      ["POST", "/purchases", { userid: 1, goodsid: 1 }],
      ["GET", "/purchases?userid=1"],
    ];
    for (const [method, path, body] of flow) {
      const response = await call(system, method, path, body);
      assert.deepEqual([response.status, response.body.errorcode], [200, 0], `${method} ${path}`);
    }
  });

  it("never routes to a rogue node without the secret, nor to one with a wrong secret", async () => {
    const rogue = await startBookService((packet, socket) => socket.write(answer(packet, { rogue: true })));
    const bookRogue = await BookPeer.connect(system.distributor.port);
    const wrong = linkToRegistry({
      distributor: { hostname: "127.0.0.1", port: system.distributor.port },
      self: { port: rogue.port, name: "members", urls: ["GET/members"] },
      secret: "a-wrong-secret-of-some-length",
      log: quiet,
    });
    try {
      bookRogue.send(registration("members", rogue.port, ["GET/members"]));
      await bookRogue.closed;
      assert.ok(bookRogue.packets.every(isChallenge), "a peer without the secret is told nothing but a challenge");
      await system.distributor.waitFor((entry) => entry.event === "authentication failed");
      await delay(500);
      for (let i = 0; i < 10; i++) {
        const response = await call(system, "GET", `/members?username=kim&password=${PASSWORD}`);
        assert.equal(response.body.rogue, undefined, "answered by the real members service");
        assert.equal(response.body.errorcode, 0);
      }
      assert.deepEqual(rogue.received, [], "the rogue service was never called");
    } finally {
      wrong.close();
      bookRogue.close();
      await rogue.close();
    }
  });

  it("answers nothing to a direct call without the secret, and disconnects the caller", async () => {
    const members = system.services.get("members")!;
    const intruder = await BookPeer.connect(members.port);
    intruder.send({ uri: "/members", method: "GET", params: { username: "kim", password: PASSWORD, key: 1 } });
    await intruder.closed;
    assert.ok(intruder.packets.every(isChallenge), JSON.stringify(intruder.packets));
  });

  it("refuses a replayed handshake", async () => {
    // Record a genuine exchange with the distributor...
    const genuine = await BookPeer.connect(system.distributor.port);
    const challenge = await genuine.waitFor(isChallenge);
    const dialled: MeshIdentity = { role: "distributor", name: "distributor", port: system.distributor.port };
    const auth = new ClientHandshake(SECRET, dialled).answer(challenge)!;
    genuine.send(auth);
    await genuine.waitFor((packet) => packet.uri === "/_pilcrow/welcome");
    genuine.close();
    // ...and replay its answer on a new connection, which gets a fresh challenge.
    const from = system.distributor.entries.length;
    const replayer = await BookPeer.connect(system.distributor.port);
    const fresh = await replayer.waitFor(isChallenge);
    assert.notEqual(fresh.params.nonce, challenge.params.nonce);
    replayer.send(auth);
    replayer.send(registration("members", 9999, ["GET/members"]));
    await replayer.closed;
    await system.distributor.waitFor((entry) => entry.event === "authentication failed", 5000, from);
    assert.ok(!replayer.packets.some((packet) => packet.uri === "/_pilcrow/welcome"));
  });

  it("sends secure headers, a request id and the configured CORS headers", async () => {
    const response = await fetch(`${system.url}/goods`, { headers: { origin: "https://shop.example" } });
    await response.text();
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.ok(response.headers.get("x-frame-options"));
    assert.match(response.headers.get("x-request-id") ?? "", /^[\w-]{8,}$/);
    assert.equal(response.headers.get("access-control-allow-origin"), "https://shop.example");
  });

  it("writes no password, secret or request body to any log line", () => {
    for (const process of system.all()) {
      for (const line of process.output) {
        for (const secret of [SECRET, PASSWORD, BODY_MARKER]) {
          assert.ok(!line.includes(secret), `${process.name} logged ${secret}: ${line}`);
        }
      }
    }
  });
});

describe("the handshake is bound to who is dialled", () => {
  const members: MeshIdentity = { role: "service", name: "members", port: 9020 };
  const others: [string, MeshIdentity][] = [
    ["another port", { ...members, port: 9021 }],
    ["another name", { ...members, name: "goods" }],
    ["another role", { role: "distributor", name: "distributor", port: 9020 }],
  ];

  /** Runs the handshake between a client dialling `dialled` and a server that is `answering`. */
  function handshake(dialled: MeshIdentity, answering: MeshIdentity) {
    const server = new ServerHandshake(SECRET, answering);
    const client = new ClientHandshake(SECRET, dialled);
    const auth = client.answer(server.challenge())!;
    return { server, client, auth, outcome: server.check(auth) };
  }

  it("completes when the client dialled exactly the server's identity", () => {
    const { client, outcome } = handshake(members, members);
    assert.ok("welcome" in outcome, JSON.stringify(outcome));
    assert.equal(client.welcomed(outcome.welcome), true);
  });

  for (const [what, other] of others) {
    it(`the server refuses a proof made for ${what}, and says what was dialled`, () => {
      const { outcome } = handshake(other, members);
      assert.ok("refused" in outcome, JSON.stringify(outcome));
      assert.match(outcome.refused, /meant for/);
      assert.ok(outcome.refused.includes(`${other.name}@${other.port}`), outcome.refused);
    });

    it(`the client refuses a welcome proving ${what}`, () => {
      const client = new ClientHandshake(SECRET, members);
      const serverNonce = "server-nonce-of-this-connection";
      const auth = client.answer({ uri: "/_pilcrow/challenge", key: 0, params: { nonce: serverNonce } })!;
      const clientNonce = (auth.params as { nonce: string }).nonce;
      const welcome = (identity: MeshIdentity): Packet => ({
        uri: "/_pilcrow/welcome",
        key: 0,
        params: { proof: handshakeProof(SECRET, "server", identity, serverNonce, clientNonce) },
      });
      assert.equal(client.welcomed(welcome(other)), false);
      assert.equal(client.welcomed(welcome(members)), true, "the control: the dialled identity's proof passes");
    });
  }

  it("cannot be fooled by a relay that rewrites the identity the client states", () => {
    const { server, auth } = handshake({ ...members, port: 9999 }, members);
    const rewritten = { ...auth, params: { ...(auth.params as object), dialled: members } };
    const outcome = server.check(rewritten);
    assert.ok("refused" in outcome, JSON.stringify(outcome));
  });
});

describe("mesh ports beyond loopback", () => {
  const started: RunningProcess[] = [];
  after(async () => {
    for (const process of started) await process.stop();
  });

  for (const entry of ["distributor.ts", "goods.ts"]) {
    it(`${entry} refuses to listen on 0.0.0.0 without a secret, and says why`, async () => {
      const refused = await startProcess(entry, ["0", "--host", "0.0.0.0"], { waitForListen: false });
      assert.equal(await refused.exited, 2);
      assert.match(refused.output.join("\n"), /refusing to listen on 0\.0\.0\.0 without a mesh secret/);
    });
  }

  it("listens on 0.0.0.0 with a secret", async () => {
    const guarded = await startProcess("distributor.ts", ["0", "--host", "0.0.0.0"], {
      env: { PILCROW_SECRET: SECRET },
    });
    started.push(guarded);
    assert.ok(guarded.running);
  });

  it("refuses a secret shorter than 16 characters", async () => {
    const refused = await startProcess("distributor.ts", ["0"], {
      env: { PILCROW_SECRET: "short" },
      waitForListen: false,
    });
    assert.equal(await refused.exited, 2);
    assert.match(refused.output.join("\n"), /at least 16 characters/);
  });
});
