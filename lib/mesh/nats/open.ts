/**
 * A node joins NATS only when `--mesh` says so, and only then loads the NATS client: it weighs about 10 MiB and
 * 40 ms of start-up in every process, which nodes of the TCP mesh (the distributor among them) do not need.
 */
import type { Logger } from "../../log.ts";
import type { NatsBus } from "./bus.ts";
import type { NatsSettings } from "./settings.ts";

/** The node's NATS connection for the mesh of `settings`, or undefined when it is on the TCP mesh alone. */
export async function openNatsBus(
  settings: NatsSettings | undefined,
  log: Logger,
  name: string,
  /** Aborted: stop waiting for NATS (the process is being stopped while it waits). */
  stop?: AbortSignal,
): Promise<NatsBus | undefined> {
  if (!settings) return undefined;
  const { connectToMesh } = await import("./bus.ts");
  return connectToMesh(settings, log, name, stop);
}
