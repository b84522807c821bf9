/**
 * The NATS side of a node: where the NATS servers are and how to prove who it is (settings read from flags and the
 * environment), and the one connection a node keeps to them.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../log.ts";

export type { NatsConnection };

/** `--mesh nats://host:4222[,nats://host2:4222…]` (PILCROW_MESH), with how to authenticate and encrypt. */
export interface NatsSettings {
  servers: string[];
}

/** The servers of `--mesh` (or PILCROW_MESH): a comma-separated list of nats:// URLs. */
export function parseMesh(text: string): NatsSettings {
  const servers = text.split(",").map((server) => server.trim()).filter((server) => server !== "");
  return { servers };
}

/** Connects a node to NATS, reconnecting for ever once connected. */
export function connectNats(settings: NatsSettings, log: Logger, name: string): Promise<NatsConnection> {
  log.debug("connecting to NATS", settings.servers.length);
  return connect({
    servers: settings.servers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
  });
}
