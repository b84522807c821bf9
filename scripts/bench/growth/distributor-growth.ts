/**
 * Mesh growth over the distributor (issue 15, "Measure"): a mesh of N nodes — N−1 simulated nodes (one TCP
 * connection each, simulated-node.ts) and one observer, a real node that joins the mesh with `joinMesh` and
 * registers last, so that it hears each list after all the others — then, round after round, a newcomer
 * (a real packet server answering pings, registered over a counted connection) joins and leaves. Per join:
 *
 * - routable ms: from the newcomer's connect to the distributor until the observer's pool has it connected and
 *   answering its ping, i.e. until the observer would route to it;
 * - bytes: every byte the distributor wrote for it, counted where it arrives (each simulated node's socket and the
 *   newcomer's; the observer gets the same list as the others), and checked against the notification sizes that
 *   lib/wire/node-info.ts computes: the list sent to the newcomer as it connects, then the new list to all;
 * - CPU ms per change: the distributor process's CPU over all rounds (joins and leaves) over their number.
 *
 * Changes are spaced by the distributor's pacing (lists of big meshes are sent at most ALL_LISTS_RATE bytes a
 * second), so each is measured alone, not held back behind the previous one.
 */
import type { Logger } from "../../../lib/log.ts";
import { joinMesh } from "../../../lib/mesh/mesh.ts";
import type { RuntimeName } from "../../../lib/runtime/mod.ts";
import { listenPackets } from "../../../lib/tcp/server.ts";
import { isPing, PILCROW_PROTOCOL, pong } from "../../../lib/wire/heartbeat.ts";
import { entryBytes, notificationBytes } from "../../../lib/wire/node-info.ts";
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
  /** The distributor's CPU per change (joins and leaves alike); absent where it cannot be read (NATS). */
  cpuMsPerChange?: number;
}

/** lib/distributor.ts's ALL_LISTS_RATE: past it, the next list waits. */
const PACED_BYTES_PER_SECOND = 64 * 1024 * 1024;
/** Simulated nodes connected at once while the mesh is built. */
const CONNECT_BATCH = 100;

/** A node as the book's services register: a name, two routes, ~100 bytes listed. */
function simulatedSelf(name: string, port: number): NodeInfo {
  return { port, name, urls: [`GET/${name}`, `POST/${name}`], host: "127.0.0.1", pilcrow: PILCROW_PROTOCOL };
}

const listBytes = (nodes: NodeInfo[]) => notificationBytes(nodes.map(entryBytes));

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
    const listed = cachedList(sentinel);
    const allHeard = (count: number, since: number[]) =>
      listed().length === count
      && simulated.every((node, index) =>
        node.frames > since[index] && node.lastFrameBytes === sentinel.lastFrameBytes
      );
    await waitUntil(() => allHeard(nodes, simulated.map(() => 0)), `list of ${nodes} nodes at every node`);
    await delay(pacingMs(sentinel.lastFrameBytes, nodes));

    let cpuBefore = 0;
    const routable: number[] = [];
    const bytes: number[] = [];
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
      const listBefore = listed();
      const bytesBefore = simulated.map((node) => node.bytes);
      const framesBefore = simulated.map((node) => node.frames);
      const joinedAt = performance.now();
      const newcomer = await SimulatedNode.register(address, simulatedSelf(name, server.address.port));
      await waitUntil(
        () => observer.status().instances.some((instance) => instance.name === name && instance.ready),
        `${name} routable at the observer`,
      );
      const routableMs = performance.now() - joinedAt;
      await waitUntil(
        () => allHeard(nodes + 1, framesBefore) && newcomer.frames === 2,
        `list with ${name} at every node`,
      );
      const joinedList = listed();
      const joined = sentinel.lastFrameBytes;
      const counted = simulated.reduce((sum, node, index) => sum + node.bytes - bytesBefore[index], 0)
        + newcomer.bytes + joined; // the observer's copy of the list
      const computed = listBytes(listBefore) + (nodes + 1) * listBytes(joinedList);
      if (counted !== computed) {
        throw new Error(`mesh growth: ${counted} bytes counted for a join of ${nodes}, ${computed} computed`);
      }
      if (round > 0) {
        routable.push(routableMs);
        bytes.push(counted);
      }
      await delay(pacingMs(joined, nodes + 1));

      const framesBeforeLeave = simulated.map((node) => node.frames);
      newcomer.close();
      await waitUntil(
        () => allHeard(nodes, framesBeforeLeave) && !observer.status().instances.some((i) => i.name === name),
        `list without ${name} at every node`,
      );
      await server.close();
      await delay(pacingMs(sentinel.lastFrameBytes, nodes));
      if (round === 0) cpuBefore = await cpuMicros(distributor);
    }
    const cpuMs = (await cpuMicros(distributor) - cpuBefore) / 1000;
    return {
      nodes,
      rounds,
      routableMs: median(routable),
      bytesPerChange: bytes.reduce((sum, value) => sum + value, 0) / bytes.length,
      cpuMsPerChange: cpuMs / (2 * rounds),
    };
  } finally {
    observer.close();
    for (const node of simulated) node.close();
    await distributor.stop();
  }
}

/** The sentinel's last list, parsed once per frame. */
function cachedList(sentinel: SimulatedNode): () => NodeInfo[] {
  let frames = -1;
  let list: NodeInfo[] = [];
  return () => {
    if (sentinel.frames !== frames) {
      frames = sentinel.frames;
      list = sentinel.lastList();
    }
    return list;
  };
}

/** How long the distributor holds the next list after sending one of `frameBytes` to `receivers`, and a margin. */
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
