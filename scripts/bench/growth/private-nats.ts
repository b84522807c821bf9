/**
 * A NATS server of the growth figures' own (/usr/sbin/nats-server, or NATS_SERVER), on free loopback ports, with
 * its monitoring endpoint: what it delivered is read from it (/varz out_bytes: message payloads) and from the
 * kernel (/proc/PID/io wchar: every byte it wrote to its clients, protocol lines included).
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnCommand, tcpImplementation } from "../../../lib/runtime/mod.ts";
import { cpuSeconds } from "../proc.ts";

export interface PrivateNats {
  url: string;
  /** Payload bytes of the messages it delivered so far (/varz out_bytes). */
  payloadBytes(): Promise<number>;
  /**
   * Bytes it wrote so far (/proc/PID/io wchar), to clients and to the monitoring endpoint: read it after
   * `payloadBytes` before a change and before it after, so that the window holds no monitoring answer.
   */
  wireBytes(): number;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const READY_WITHIN_MS = 10_000;

/** A port free now: bound, read, released (the server binds it a moment later). */
async function freePort(): Promise<number> {
  const listener = await tcpImplementation().listen(
    { hostname: "127.0.0.1", port: 0 },
    () => ({ data() {}, drain() {}, close() {} }),
  );
  const { port } = listener.address;
  await listener.close();
  return port;
}

export async function startPrivateNats(): Promise<PrivateNats> {
  const [port, monitorPort] = [await freePort(), await freePort()];
  const binary = process.env.NATS_SERVER ?? "/usr/sbin/nats-server";
  const child: ChildProcess = spawnCommand([binary, "-a", "127.0.0.1", "-p", `${port}`, "-m", `${monitorPort}`]);
  // Its few log lines are read and dropped, so that a full pipe never blocks it.
  child.stdout?.resume();
  child.stderr?.resume();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const varz = async () => {
    const response = await fetch(`http://127.0.0.1:${monitorPort}/varz`);
    return await response.json() as { out_bytes: number };
  };
  const stop = async () => {
    child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + READY_WITHIN_MS;
  for (;;) {
    try {
      await varz();
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`private nats-server (${binary}) did not start: ${(error as Error).message}`);
      }
      await sleep(50);
    }
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    payloadBytes: async () => (await varz()).out_bytes,
    wireBytes: () => Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${child.pid}/io`, "utf8"))![1]),
    cpuSeconds: () => cpuSeconds(child.pid),
    stop,
  };
}
