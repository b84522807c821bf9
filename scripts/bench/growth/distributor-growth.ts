/**
 * Mesh growth over the distributor (issue 15, "Measure"): a mesh of N nodes — N−1 simulated nodes (one TCP
 * connection each, simulated-node.ts) and one observer, a real node that joins the mesh with `joinMesh` and
 * registers last, so that it hears each list after all the others — then, round after round, a newcomer
 * (a real packet server answering pings, registered over a counted connection) joins and leaves. Per join:
 *
 * - routable ms: from the newcomer's connect to the distributor until the observer's pool has it connected and
 *   answering its ping, i.e. until the observer would route to it;
 * - bytes: every byte the distributor wrote for it, counted where it arrives (each simulated node's socket and the
 *   newcomer's; the observer gets what the others get), and checked: the book's notification sent to the newcomer
 *   as it connects (its size as lib/wire/node-info.ts computes it) and the whole list with ids once it registers
 *   (the size of the sentinel's copy, written as the distributor writes it), then one change, the same, to every
 *   other node (they are all Pilcrow nodes of protocol version 2). Each leave is counted and checked as well: one
 *   change to every node;
 * - CPU ms per change: the distributor process's CPU over all rounds (joins and leaves) over their number.
 *
 * Changes are spaced by the distributor's pacing (lists of big meshes are sent at most ALL_LISTS_RATE bytes a
 * second), so each is measured alone, not held back behind the previous one.
 */
import { Buffer } from "node:buffer";
import type { Logger } from "../../../lib/log.ts";
import { joinMesh } from "../../../lib/mesh/mesh.ts";
import type { RuntimeName } from "../../../lib/runtime/mod.ts";
import { listenPackets } from "../../../lib/tcp/server.ts";
import { frameText, utf8 } from "../../../lib/wire/codec.ts";
import { isPing, pong } from "../../../lib/wire/heartbeat.ts";
import { LIST_CHANGES_PROTOCOL, nodeListPacket } from "../../../lib/wire/node-changes.ts";
import { entryBytes } from "../../../lib/wire/node-info.ts";
import type { NodeInfo } from "../../../lib/wire/packet.ts";
import { delay, type RunningProcess, startProcess } from "../../../tests/support/processes.ts";
import { median, waitUntil } from "./poll.ts";
import { type Address, SimulatedNode } from "./simulated-node.ts";

export interface GrowthFigure {
  /** Nodes in the mesh before the change. */
  nodes: number;
  rounds: number;
  /** Median over the rounds. */
  routableMs: number;
  /** Bytes one join sends, every receiver together. */
  bytesPerChange: number;
  /** Bytes one leave sends, every receiver together (over NATS: not measured). */
  bytesPerLeave?: number;
  /** The distributor's CPU per change (joins and leaves alike); absent where it cannot be read (NATS). */
  cpuMsPerChange?: number;
}

/** lib/distributor.ts's ALL_LISTS_RATE: past it, the next list waits. */
const PACED_BYTES_PER_SECOND = 64 * 1024 * 1024;
/** Simulated nodes connected at once while the mesh is built. */
const CONNECT_BATCH = 100;

/** A Pilcrow node as the book's services register: a name, two routes, ~100 bytes listed. */
function simulatedSelf(name: string, port: number): NodeInfo {
  return { port, name, urls: [`GET/${name}`, `POST/${name}`], host: "127.0.0.1", pilcrow: LIST_CHANGES_PROTOCOL };
}

/** Bytes of the book's notification frame listing these nodes: the packet around their entries, commas, the `¶`. */
const listBytes = (nodes: NodeInfo[]) =>
  NOTIFICATION_OVERHEAD + nodes.reduce((sum, node) => sum + entryBytes(node), 0) + Math.max(0, nodes.length - 1);
const NOTIFICATION_OVERHEAD = Buffer.byteLength(`{"uri":"/distributes","method":"GET","key":0,"params":[]}¶`);

export async function measureDistributorGrowth(
  nodes: number,
  rounds: number,
  runtime: RuntimeName,
  log: Logger,
): Promise<GrowthFigure> {
  const distributor = await startProcess("scripts/bench/growth/distributor-child.ts", [], { runtime });
  const address: Address = { hostname: "127.0.0.1", port: distributor.port };
  const simulated: SimulatedNode[] = [];
  const observer = joinMesh({
    distributor: address,
    // Registered with a port nobody listens on: no one connects to the observer, and the distributor's port
    // checks are off with its heartbeats.
    self: { port: 9999, name: "observer", urls: [] },
    log,
    connectTo: (node) => node.name.startsWith("newcomer"),
  });
  try {
    // The observer registers first here, but it is the simulated nodes' connect that is awaited: build the
    // mesh, then check it is whole.
    for (let first = 0; first < nodes - 1; first += CONNECT_BATCH) {
      const batch = Array.from({ length: Math.min(CONNECT_BATCH, nodes - 1 - first) }, (_, index) => {
        const number = first + index;
        return SimulatedNode.register(address, simulatedSelf(`sim-${number}`, 10_000 + number), number === 0);
      });
      simulated.push(...await Promise.all(batch));
    }
    const [sentinel] = simulated;
    const sentinelSays = () => {
      if (sentinel.problem) throw new Error(`mesh growth: ${sentinel.problem}`);
      return sentinel.nodes();
    };
    // The nodes that registered last were sent the whole list, the others a change: wait until the sentinel lists
    // them all and no frame has come for a while, so that each round starts with every node up to date.
    await waitUntil(() => sentinelSays().length === nodes, `list of ${nodes} nodes at the sentinel`);
    await waitUntilQuiet(simulated, pacingMs(sentinel.lastFrameBytes, nodes));

    /**
     * Bytes every simulated node but the newcomer received since `before`, once each has received exactly one frame,
     * the same as the sentinel's; and that frame, which the observer received too.
     */
    const oneChangeEach = (before: { bytes: number; frames: number }[], what: string) => {
      const change = sentinel.lastFrameBytes;
      let sum = 0;
      simulated.forEach((node, index) => {
        const received = node.bytes - before[index].bytes;
        if (node.frames !== before[index].frames + 1 || received !== change) {
          throw new Error(`mesh growth: ${what}: a node got ${received} bytes, the sentinel a change of ${change}`);
        }
        sum += received;
      });
      return sum + change;
    };
    const marks = () => simulated.map(({ bytes, frames }) => ({ bytes, frames }));
    const heardOnce = (before: { frames: number }[]) =>
      simulated.every((node, index) => node.frames > before[index].frames);

    let cpuBefore = 0;
    const routable: number[] = [];
    const joins: number[] = [];
    const leaves: number[] = [];
    // Round 0 warms the code up (JIT) and is not counted.
    for (let round = 0; round <= rounds; round++) {
      const name = `newcomer-${String(round).padStart(3, "0")}`;
      const server = await listenPackets({
        hostname: "127.0.0.1",
        port: 0,
        log,
        packet(packet, connection) {
          if (isPing(packet)) connection.send(pong(packet));
        },
      });
      const listBefore = sentinelSays();
      const beforeJoin = marks();
      const joinedAt = performance.now();
      const newcomer = await SimulatedNode.register(address, simulatedSelf(name, server.address.port));
      await waitUntil(
        () => observer.status().instances.some((instance) => instance.name === name && instance.ready),
        `${name} routable at the observer`,
      );
      const routableMs = performance.now() - joinedAt;
      await waitUntil(
        () => sentinelSays().length === nodes + 1 && heardOnce(beforeJoin) && newcomer.frames === 2,
        `the change with ${name} at every node`,
      );
      // The newcomer: the book's notification as it connects, then the whole list with ids at the new version.
      const whole = utf8(frameText(nodeListPacket(sentinel.list()!))).length;
      if (newcomer.bytes !== listBytes(listBefore) + whole) {
        throw new Error(
          `mesh growth: the newcomer got ${newcomer.bytes} bytes, not ${listBytes(listBefore)} + ${whole}`,
        );
      }
      const joined = oneChangeEach(beforeJoin, `${name} joining`) + newcomer.bytes;
      await delay(pacingMs(joined, 1));

      const beforeLeave = marks();
      newcomer.close();
      await waitUntil(
        () =>
          sentinelSays().length === nodes && heardOnce(beforeLeave)
          && !observer.status().instances.some((i) => i.name === name),
        `the change without ${name} at every node`,
      );
      const left = oneChangeEach(beforeLeave, `${name} leaving`);
      if (round > 0) {
        routable.push(routableMs);
        joins.push(joined);
        leaves.push(left);
      }
      await server.close();
      await delay(pacingMs(left, 1));
      if (round === 0) cpuBefore = await cpuMicros(distributor);
    }
    const cpuMs = (await cpuMicros(distributor) - cpuBefore) / 1000;
    return {
      nodes,
      rounds,
      routableMs: median(routable),
      bytesPerChange: mean(joins),
      bytesPerLeave: mean(leaves),
      cpuMsPerChange: cpuMs / (2 * rounds),
    };
  } finally {
    observer.close();
    for (const node of simulated) node.close();
    await distributor.stop();
  }
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** Waits until no node has received a frame for `quietMs`. */
async function waitUntilQuiet(nodes: SimulatedNode[], quietMs: number): Promise<void> {
  const frames = () => nodes.reduce((sum, node) => sum + node.frames, 0);
  for (let seen = -1; seen !== frames();) {
    seen = frames();
    await delay(quietMs);
  }
}

/** How long the distributor holds the next broadcast after sending `frameBytes` to each of `receivers`, and a margin. */
function pacingMs(frameBytes: number, receivers: number): number {
  return (1000 * frameBytes * receivers) / PACED_BYTES_PER_SECOND + 20;
}

/** The distributor's CPU so far: it prints it when sent SIGUSR2 (distributor-child.ts). */
async function cpuMicros(distributor: RunningProcess): Promise<number> {
  const from = distributor.entries.length;
  distributor.signal("SIGUSR2");
  const line = await distributor.waitForEvent("cpu", 10_000, from);
  return (line.details[0] as { micros: number }).micros;
}
