/**
 * The table of instances a node keeps on the NATS mesh (lib/mesh/nats/presence.ts), on a real nats-server. An
 * instance its link found gone is dropped; but when the request that found nobody was sent before the instance's
 * latest announcement was heard — as when NATS comes back and a node's first ping reaches an instance still
 * reconnecting, whose announcement is then handled before the "no responders" — it is listed again at once, not
 * at its next announcement 30 s on (seen in CI: a gateway that did not route to goods after a NATS restart).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { connectToMesh, type NatsBus } from "../lib/mesh/nats/bus.ts";
import { joinPresence, type Presence } from "../lib/mesh/nats/presence.ts";
import type { NodeInfo } from "../lib/wire/packet.ts";
import { type PrivateNats, skipWithoutNats, startPrivateNats } from "./support/private-nats.ts";
import { delay, eventually } from "./support/processes.ts";
import { newMeshName } from "./support/system.ts";

const log = createLogger({ name: "nats-presence", level: "error" });

describe("the NATS mesh's table of instances", { skip: skipWithoutNats }, () => {
  let nats: PrivateNats;
  let listener: NatsBus;
  let instance: NatsBus;
  let table: NodeInfo[] = [];
  /** Whether the instance was in the table, at each notification. */
  const history: boolean[] = [];
  let listening: Presence;
  let announcing: Presence;
  let subject: string;
  const listed = () => table.some((node) => node.subject === subject);

  before(async () => {
    nats = await startPrivateNats();
    const settings = { servers: [nats.url], name: newMeshName() };
    [listener, instance] = await Promise.all([
      connectToMesh(settings, log, "gate"),
      connectToMesh(settings, log, "goods"),
    ]);
    subject = instance.instanceSubject(crypto.randomUUID());
    // The instance first, so that the listener hears of it once (the answer to its hello), and nothing of it comes
    // late into the tests below.
    announcing = joinPresence({ bus: instance, self: { subject, name: "goods", urls: ["GET/goods"], pilcrow: 1 } });
    await instance.connection.flush();
    listening = joinPresence({
      bus: listener,
      notified: (nodes) => {
        table = nodes;
        history.push(listed());
      },
    });
    await eventually(() => listed() || undefined, 5000, "the instance listed");
  });

  after(async () => {
    listening?.close();
    announcing?.close();
    await Promise.all([listener?.close(), instance?.close()]);
    await nats?.destroy();
  });

  it("drops an instance found gone by a request sent after it was last heard from", async () => {
    listening.forget(subject, performance.now());
    await delay(300);
    assert.equal(listed(), false, "listed again without announcing itself");
  });

  it("lists it again at once when it was heard from after that request left", async () => {
    const sentAt = performance.now();
    instance.publish(
      instance.presenceSubject,
      JSON.stringify({ subject, name: "goods", urls: ["GET/goods"], pilcrow: 1 }),
    );
    await eventually(() => listed() || undefined, 5000, "the instance listed after its announcement");
    // The request that found nobody left before the announcement above was heard: dropped, then back.
    const from = history.length;
    listening.forget(subject, sentAt);
    await eventually(
      () => history.slice(from).join() === "false,true" || undefined,
      2000,
      () => `${history.slice(from)}`,
    );
    assert.equal(listed(), true);
  });
});
