/** The packets of docs/protocol.md §2. Fields are optional on the wire: peers written for the book may omit any. */
export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface Packet {
  uri?: string;
  method?: string;
  key?: unknown;
  params?: unknown;
  [field: string]: unknown;
}

/** What a node tells the distributor about itself. */
export interface NodeInfo {
  port: number;
  name: string;
  urls: string[];
  /** The host others should use to reach the node; the distributor fills it in when absent. */
  host?: string;
  /**
   * Set by Pilcrow nodes (protocol version 1): the node answers heartbeat pings. Book peers leave it out,
   * and are never pinged — a ping is a packet they would not understand.
   */
  pilcrow?: number;
  /**
   * A node on the NATS mesh (lib/mesh/nats/): the subject its requests go to. It has no TCP address then (`port`
   * is 0), and is never in a distributor's list.
   */
  subject?: string;
}

export const DISTRIBUTES = "/distributes";
