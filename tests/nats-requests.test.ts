/**
 * A node's requests over NATS (lib/mesh/nats/bus.ts), on a real nats-server: each answer reaches its own request
 * among many in flight; nobody subscribed fails at once ("no responders"); no answer fails at the timeout; a
 * request larger than the server takes fails at once and the next goes on; closing the node fails what waits at
 * once; and requests made by many callbacks of one turn (as an HTTP server's) leave in a few writes, not one each.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { connectToMesh, NatsBus, NoRespondersError } from "../lib/mesh/nats/bus.ts";
import { ConnectionLostError, RequestTimeoutError } from "../lib/tcp/errors.ts";
import { type PrivateNats, skipWithoutNats, startPrivateNats } from "./support/private-nats.ts";
import { newMeshName } from "./support/system.ts";

const log = createLogger({ name: "nats-requests", level: "error" });
const MAX_PAYLOAD = 4096;

/** Write system calls this process has made so far (Linux). */
const writeCalls = () => Number(/syscw:\s*(\d+)/.exec(readFileSync("/proc/self/io", "utf8"))![1]);

describe("requests over NATS", { skip: skipWithoutNats }, () => {
  let nats: PrivateNats;
  let asker: NatsBus;
  let answerer: NatsBus;
  const mesh = newMeshName();
  const subject = (what: string) => `${mesh}.i.${what}`;

  before(async () => {
    nats = await startPrivateNats({ maxPayload: MAX_PAYLOAD });
    const settings = { servers: [nats.url], name: mesh };
    [asker, answerer] = await Promise.all([
      connectToMesh(settings, log, "asker"),
      connectToMesh(settings, log, "answerer"),
    ]);
    // Echoes each request after up to 20 ms, so answers come back out of order.
    answerer.subscribe(subject("echo"), (message) => {
      setTimeout(() => message.respond(message.data), Math.floor(Math.random() * 20));
    });
    // Echoes at once: the answers to what one read brought leave together.
    answerer.subscribe(subject("now"), (message) => message.respond(message.data));
    answerer.subscribe(subject("silent"), () => {});
    // Seen by the server before any request is sent to them.
    await answerer.connection.flush();
  });

  after(async () => {
    await Promise.all([asker?.close(), answerer?.close()]);
    await nats?.destroy();
  });

  it("gives each of 300 requests in flight its own answer", async () => {
    const texts = Array.from({ length: 300 }, (_, index) => JSON.stringify({ index, pad: "x".repeat(index) }));
    const answers = await Promise.all(texts.map((text) => asker.request(subject("echo"), text, 5000)));
    assert.deepEqual(answers.map((answer) => answer.string()), texts);
  });

  it("fails at once when nobody subscribes to the subject", async () => {
    const started = Date.now();
    await assert.rejects(asker.request(subject("nobody"), "{}", 5000), NoRespondersError);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });

  it("fails with RequestTimeoutError when no answer comes in time", async () => {
    const started = Date.now();
    await assert.rejects(asker.request(subject("silent"), "{}", 300), RequestTimeoutError);
    const took = Date.now() - started;
    assert.ok(took >= 300 && took < 1500, `took ${took} ms`);
  });

  it("fails at once for a request larger than the server takes, and the next request is answered", async () => {
    const started = Date.now();
    const tooLarge = asker.request(subject("echo"), "x".repeat(MAX_PAYLOAD + 1), 5000);
    await assert.rejects(tooLarge, (error: Error) => !(error instanceof RequestTimeoutError));
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    assert.equal((await asker.request(subject("echo"), "after", 5000)).string(), "after");
  });

  it("sends requests made by many callbacks of one turn together, in a few writes", {
    skip: existsSync("/proc/self/io") ? false : "needs Linux's /proc/self/io",
  }, async () => {
    // Each request from a callback of its own, as each HTTP request is: nats.js alone would write each at the
    // microtask checkpoint after its callback, one system call per request.
    const count = 200;
    const before = writeCalls();
    const answers = await new Promise<Promise<unknown>[]>((resolve) => {
      const sent: Promise<unknown>[] = [];
      for (let index = 0; index < count; index++) {
        setImmediate(() => {
          sent.push(asker.request(subject("now"), `{"index":${index}}`, 5000));
          if (sent.length === count) resolve(sent);
        });
      }
    });
    await Promise.all(answers);
    const writes = writeCalls() - before;
    assert.ok(writes < count / 4, `${writes} writes for ${count} requests`);
  });

  it("fails what waits at once when the node closes its connection", async () => {
    const settings = { servers: [nats.url], name: mesh };
    const closing = await connectToMesh(settings, log, "closing");
    const waiting = closing.request(subject("silent"), "{}", 10_000);
    // Published, and waiting for an answer that will not come.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await closing.close();
    await assert.rejects(waiting, ConnectionLostError);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });
});
