/**
 * Mesh growth over NATS (issue 15, "Measure"), the same figure as distributor-growth.ts on lib/mesh/nats: a mesh
 * of N nodes — N−1 simulated instances and one observer that joins with `joinMesh` — on a private NATS server;
 * then, round after round, a newcomer (lib/mesh/nats/presence.ts and responder.ts: a real instance that answers
 * pings on its subject, on a NATS connection of its own made beforehand) announces itself and leaves. Simulated
 * nodes do on the wire what presence.ts does but only count what they hear: each simulated instance listens to
 * announcements (as a service that calls others does) and answers hellos with its announcement; the newcomer,
 * announced by presence.ts, also says hello as a calling service does, and counts the answers. Parsing a thousand
 * copies in this one process would delay the observer's own, which is measured. Per join:
 *
 * - routable ms: from the newcomer's announcement until the observer's pool has it answering its ping;
 * - bytes: what the NATS server delivered for it, until every node lists the newcomer and the newcomer lists every
 *   node (its hello answered): message payloads (/varz out_bytes) and every byte it wrote (/proc/PID/io);
 * - the server's CPU per change, over all rounds (joins and leaves), in 10 ms ticks: coarse for small meshes.
 *
 * Simulated instances share NATS connections, SIMS_PER_CONNECTION to each: the server delivers a copy of a message
 * per subscription, so the bytes are those of one connection each, and a thousand nodes stay cheap in one process.
 */
import { createInbox, type Subscription } from "@nats-io/transport-node";
import type { Logger } from "../../../lib/log.ts";
import { joinMesh } from "../../../lib/mesh/mesh.ts";
import { NatsBus } from "../../../lib/mesh/nats/bus.ts";
import { connectNats } from "../../../lib/mesh/nats/connect.ts";
import { joinPresence } from "../../../lib/mesh/nats/presence.ts";
import { respondOnNats } from "../../../lib/mesh/nats/responder.ts";
import { isPing, PILCROW_PROTOCOL, pong } from "../../../lib/wire/heartbeat.ts";
import { startPrivateNats } from "../private-nats.ts";
import type { GrowthFigure } from "./distributor-growth.ts";
import { median, waitUntil } from "./poll.ts";

export interface NatsGrowthFigure extends GrowthFigure {
  /** Bytes the server wrote for one join, protocol lines included (bytesPerChange: message payloads only). */
  wireBytesPerChange: number;
  serverCpuMsPerChange: number;
}

const SIMS_PER_CONNECTION = 25;

/** A simulated instance: announcements heard so far. */
interface Simulated {
  heard: number;
}

export async function measureNatsGrowth(nodes: number, rounds: number, log: Logger): Promise<NatsGrowthFigure> {
  const nats = await startPrivateNats();
  const buses: NatsBus[] = [];
  const openBus = async (name: string) => {
    const bus = new NatsBus(await connectNats({ servers: [nats.url], name: "growth" }, log, name), log, "growth");
    buses.push(bus);
    return bus;
  };
  const simulated: Simulated[] = [];
  const subscriptions: Subscription[] = [];
  try {
    // Instances first, each answering hellos; then the observer, whose hello they answer; then their ears, so that
    // building the mesh costs N messages, not N².
    const simBuses: NatsBus[] = [];
    for (let first = 0; first < nodes - 1; first += SIMS_PER_CONNECTION) {
      const bus = await openBus(`sims-${first}`);
      simBuses.push(bus);
      const count = Math.min(SIMS_PER_CONNECTION, nodes - 1 - first);
      for (let index = 0; index < count; index++) {
        const text = JSON.stringify(announcement(bus, `sim-${first + index}`));
        subscriptions.push(bus.subscribe(bus.helloSubject, (message) => message.reply && message.respond(text)));
      }
    }
    const observer = joinMesh({
      nats: await openBus("observer"),
      self: { port: 0, name: "observer", urls: [] },
      log,
      connectTo: (node) => node.name.startsWith("newcomer"),
    });
    simBuses.forEach((bus, group) => {
      const count = Math.min(SIMS_PER_CONNECTION, nodes - 1 - group * SIMS_PER_CONNECTION);
      for (let index = 0; index < count; index++) {
        const node: Simulated = { heard: 0 };
        simulated.push(node);
        subscriptions.push(bus.subscribe(bus.presenceSubject, () => node.heard++));
      }
    });
    await Promise.all(buses.map((bus) => bus.connection.flush()));
    const everyoneHeard = (since: number) => simulated.every((node) => node.heard > since);

    const newcomerBus = await openBus("newcomer");
    const routable: number[] = [];
    const payload: number[] = [];
    const wire: number[] = [];
    let cpuBefore = 0;
    // Round 0 warms the code up (JIT) and is not counted.
    for (let round = 0; round <= rounds; round++) {
      const name = `newcomer-${String(round).padStart(3, "0")}`;
      const self = announcement(newcomerBus, name);
      const responder = respondOnNats(newcomerBus, self.subject, (packet, channel) => {
        if (isPing(packet)) channel.send(pong(packet));
      });
      const payloadBefore = await nats.payloadBytes();
      const wireBefore = nats.wireBytes();
      const joinedAt = performance.now();
      const heardBefore = simulated[0].heard;
      const presence = joinPresence({ bus: newcomerBus, self });
      let answers = 0;
      const inbox = createInbox();
      const hellos = newcomerBus.subscribe(inbox, () => answers++);
      newcomerBus.publish(newcomerBus.helloSubject, "", inbox);
      await waitUntil(
        () => observer.status().instances.some((instance) => instance.name === name && instance.ready),
        `${name} routable at the observer`,
      );
      const routableMs = performance.now() - joinedAt;
      await waitUntil(
        // Every simulated instance answers, and so does the newcomer's own presence (which ignores its answer).
        () => everyoneHeard(heardBefore) && answers === nodes,
        `${name} known to every node, and every node to it`,
      );
      const wireBytes = nats.wireBytes() - wireBefore;
      const payloadBytes = await nats.payloadBytes() - payloadBefore;
      if (round > 0) {
        routable.push(routableMs);
        wire.push(wireBytes);
        payload.push(payloadBytes);
      }

      const heardBeforeLeave = simulated[0].heard;
      hellos.unsubscribe();
      presence.leave();
      await waitUntil(
        () =>
          everyoneHeard(heardBeforeLeave)
          && !observer.status().instances.some((instance) => instance.name === name),
        `${name} gone from every node`,
      );
      presence.close();
      await responder.close();
      if (round === 0) cpuBefore = nats.cpuSeconds();
    }
    const serverCpuMs = (nats.cpuSeconds() - cpuBefore) * 1000;
    observer.close();
    return {
      nodes,
      rounds,
      routableMs: median(routable),
      bytesPerChange: mean(payload),
      wireBytesPerChange: mean(wire),
      serverCpuMsPerChange: serverCpuMs / (2 * rounds),
    };
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    await Promise.all(buses.map((bus) => bus.close()));
    await nats.stop();
  }
}

/** An instance as the book's services register: a name, two routes; its subject is its own. */
function announcement(bus: NatsBus, name: string) {
  return {
    subject: bus.instanceSubject(name),
    name,
    urls: [`GET/${name}`, `POST/${name}`],
    pilcrow: PILCROW_PROTOCOL,
  };
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
