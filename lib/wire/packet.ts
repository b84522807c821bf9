/** The packets of SPEC §2. Fields are optional on the wire: peers written for the book may omit any. */
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
}

export const DISTRIBUTES = "/distributes";
