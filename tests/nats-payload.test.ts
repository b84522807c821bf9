/**
 * A request larger than the NATS server carries (its max_payload, here a private server's 4 KB): the gateway says so
 * at once with a 413 naming the limit, sends it to no instance, stores nothing, and goes on serving. Counted in bytes
 * of UTF-8, not characters. An answer too large for it comes back as a failure saying so.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type PrivateNats, skipWithoutNats, startPrivateNats } from "./support/private-nats.ts";
import { eventually } from "./support/processes.ts";
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
