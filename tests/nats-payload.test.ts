/**
 * A request larger than the NATS server carries (its max_payload, here a private server's 4 KB): the gateway says so
 * at once with a 413 naming the limit, sends it to no instance, stores nothing, and goes on serving. Counted in bytes
 * of UTF-8, not characters; a gateway on both meshes sends it to an instance over TCP instead. An answer too large
 * for NATS comes back as a failure saying so.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BookPeer, registration } from "./support/book-peer.ts";
import { answer, startBookService } from "./support/book-service.ts";
import { type PrivateNats, skipWithoutNats, startPrivateNats } from "./support/private-nats.ts";
import { eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, type MeshSystem, newMeshName, startNatsSystem } from "./support/system.ts";

const MAX_PAYLOAD = 4096;

describe("a request larger than the NATS server's max_payload", { skip: skipWithoutNats }, () => {
  let nats: PrivateNats;
  let system: MeshSystem;

  before(async () => {
    nats = await startPrivateNats({ maxPayload: MAX_PAYLOAD });
    system = await startNatsSystem({ services: ["goods"], nats: { url: nats.url, name: newMeshName() } });
    await eventually(async () => (await call(system, "GET", "/goods")).status === 200 || undefined, 10_000, "goods");
  });

  after(async () => {
    await system?.stop();
    await nats?.destroy();
  });

  const good = (description: string) => ({ name: "big", category: "c", price: 1, description });

  for (
    const [what, description] of [
      ["ASCII", "x".repeat(MAX_PAYLOAD)],
      // 2,100 characters, but 4,200 bytes: the limit is in bytes.
      ["two-byte characters", "é".repeat(2100)],
    ]
  ) {
    it(`is refused at once with 413 and the limit (${what})`, async () => {
      const started = Date.now();
      const answer = await call(system, "POST", "/goods", good(description));
      assert.equal(answer.status, 413, JSON.stringify(answer.body));
      const body = answer.body as { errorcode: number; errormessage: string };
      assert.equal(body.errorcode, 1);
      assert.match(body.errormessage, /POST \/goods.* bytes, more than the mesh carries \(4096\)/);
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    });
  }

  it("stores nothing of it, and the next requests are served", async () => {
    const small = await call(system, "POST", "/goods", good("small"));
    assert.equal(small.status, 200, JSON.stringify(small.body));
    assert.equal((small.body as { errorcode: number }).errorcode, 0);
    const list = await call(system, "GET", "/goods");
    assert.equal(list.status, 200);
    const results = (list.body as { results: { description: string }[] }).results;
    assert.deepEqual(results.map((row) => row.description), ["small"]);
    for (const node of system.all()) assert.ok(node.running, `${node.name} still runs`);
  });

  it("on a gateway on both meshes, goes to an instance over TCP, which can take it", async () => {
    const env = { PILCROW_MESH_NAME: newMeshName() };
    const distributor = await startProcess("distributor.ts", ["0"]);
    const book = await startBookService((packet, socket) => socket.write(answer(packet, { pid: "book" })));
    let node: BookPeer | undefined;
    const processes: RunningProcess[] = [distributor];
    try {
      const both = ["--distributor", `127.0.0.1:${distributor.port}`, "--mesh", nats.url];
      const gate = await startProcess("gate.ts", ["0", ...both], { env });
      processes.push(gate);
      processes.push(await startProcess("tests/support/who-service.ts", ["0", "--mesh", nats.url], { env }));
      node = await BookPeer.connect(distributor.port);
      node.send(registration("who", book.port, ["GET/who", "POST/who"]));
      await gate.waitFor(() => gate.entries.filter((entry) => entry.event === "instance connected").length >= 2);
      const bothMeshes = { url: `http://127.0.0.1:${gate.port}` } as MeshSystem;
      // Round robin offers the NATS instance every other time: each of these goes to the book's instance instead.
      for (let index = 0; index < 4; index++) {
        const posted = await call(bothMeshes, "POST", "/who", { pad: "x".repeat(MAX_PAYLOAD) });
        assert.equal(posted.status, 200, JSON.stringify(posted.body));
        assert.equal((posted.body as { pid: unknown }).pid, "book");
      }
      const small = new Set<unknown>();
      for (let index = 0; index < 4; index++) {
        small.add(((await call(bothMeshes, "GET", "/who")).body as { pid: unknown }).pid);
      }
      assert.equal(small.size, 2, "small requests still go to both");
    } finally {
      node?.close();
      await book.close();
      await stopAll(processes.reverse());
    }
  });

  it("an answer larger than the server carries comes back as a failure saying so, not a timeout", async () => {
    for (let index = 0; index < 5; index++) {
      const posted = await call(system, "POST", "/goods", good("y".repeat(900)));
      assert.equal(posted.status, 200, JSON.stringify(posted.body));
    }
    const started = Date.now();
    const list = await call(system, "GET", "/goods");
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, { errorcode: 1, errormessage: "the answer was too large to send over NATS" });
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    const next = await call(system, "POST", "/goods", good("after"));
    assert.equal((next.body as { errorcode: number }).errorcode, 0, JSON.stringify(next.body));
  });
});
