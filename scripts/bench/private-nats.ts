/**
 * A NATS server of the bench's own (/usr/sbin/nats-server, or NATS_SERVER), on free loopback ports, so that no
 * other traffic reaches the figures: the gateway over NATS, and the growth figures, which read what it delivered
 * from its monitoring endpoint (/varz out_bytes: message payloads) and from the kernel (/proc/PID/io wchar: every
 * byte it wrote to its clients, protocol lines included).
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnCommand, tcpImplementation } from "../../lib/runtime/mod.ts";
import { cpuSeconds } from "./proc.ts";

export interface PrivateNats {
  url: string;
  /** `nats-server --version`, e.g. `v2.10.16`. */
  version: string;
  /** Its process, whose CPU the gateway figure over NATS reports. */
  pid: number;
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

function serverVersion(binary: string): string {
  const output = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
  return /v\d+\.\d+\.\d+\S*/.exec(output)?.[0] ?? output.trim();
}

/**
 * Two ports free now: bound together (so they differ), read, released; the server binds them a moment later, and
 * another process may take one meanwhile (startPrivateNats then tries again).
 */
async function freePorts(): Promise<[number, number]> {
  const listen = () =>
    tcpImplementation().listen({ hostname: "127.0.0.1", port: 0 }, () => ({ data() {}, drain() {}, close() {} }));
  const listeners = [await listen(), await listen()];
  await Promise.all(listeners.map((listener) => listener.close()));
  return [listeners[0].address.port, listeners[1].address.port];
}

const ATTEMPTS = 3;

export async function startPrivateNats(): Promise<PrivateNats> {
  const binary = process.env.NATS_SERVER ?? "/usr/sbin/nats-server";
  for (let attempt = 1;; attempt++) {
    try {
      return await startOnce(binary);
    } catch (error) {
      if (attempt === ATTEMPTS || !(error instanceof ServerExited)) throw error;
    }
  }
}

/** The server ran and exited before it answered: most likely a port was taken after freePorts released it. */
class ServerExited extends Error {}

async function startOnce(binary: string): Promise<PrivateNats> {
  const [port, monitorPort] = await freePorts();
  const child: ChildProcess = spawnCommand([binary, "-a", "127.0.0.1", "-p", `${port}`, "-m", `${monitorPort}`]);
  // Its log is read (so that a full pipe never blocks it) and its last lines kept, for a failure's message.
  const output: string[] = [];
  const keep = (text: string) => {
    output.push(...text.split("\n").filter(Boolean));
    output.splice(0, output.length - 5);
  };
  child.stdout?.setEncoding("utf8").on("data", keep);
  child.stderr?.setEncoding("utf8").on("data", keep);
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    // A binary that cannot be run (none installed): 'error' comes instead of 'exit', and must be handled.
    child.once("error", (error) => {
      spawnError = error;
      resolve();
    });
  });
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
      const ranAndExited = child.exitCode !== null || child.signalCode !== null;
      if (Date.now() > deadline || ranAndExited || spawnError) {
        await stop();
        const why = spawnError?.message ?? [(error as Error).message, ...output].join("\n");
        const message = `private nats-server (${binary}) did not start: ${why}`;
        throw ranAndExited ? new ServerExited(message) : new Error(message);
      }
      await sleep(50);
    }
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    version: serverVersion(binary),
    pid: child.pid!,
    payloadBytes: async () => (await varz()).out_bytes,
    wireBytes: () => Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${child.pid}/io`, "utf8"))![1]),
    cpuSeconds: () => cpuSeconds(child.pid),
    stop,
  };
}
