/**
 * The heartbeat packets between Pilcrow peers, to find a peer that vanished without closing its socket (a
 * pulled cable, a frozen VM). The pinging side sends a ping when a connection has been quiet for one interval
 * and drops it after MISSED_BEATS quiet intervals (lib/mesh/liveness.ts); the pinged side answers every ping
 * with a pong carrying its key.
 */
import type { Packet } from "./packet.ts";

export const PING_URI = "/_pilcrow/ping";
export const PONG_URI = "/_pilcrow/pong";
/**
 * The protocol version a Pilcrow node states in its registration (`pilcrow`): 1 added heartbeats, 2 the node list
 * by changes (node-changes.ts). Any version at all tells a Pilcrow node from a book one.
 */
export const PILCROW_PROTOCOL = 2;
export const DEFAULT_HEARTBEAT_MS = 2000;
/** Quiet intervals after which a peer is taken for gone. */
export const MISSED_BEATS = 3;

/**
 * A ping; with `intervalMs`, the pinged side also learns how often to expect pings (and gives up on a pinging
 * side quiet for MISSED_BEATS of them). Without it, a one-off question: "are you still there?".
 */
export function ping(key: number, intervalMs?: number): Packet & { key: number } {
  return { uri: PING_URI, method: "GET", key, params: intervalMs ? { interval: intervalMs } : {} };
}

export function isPing(packet: Packet): boolean {
  return packet.uri === PING_URI;
}

export function pong(to: Packet): Packet {
  return { uri: PONG_URI, key: to.key };
}

/** The pinging side's interval, as its ping says (so the pinged side knows when to give up on it). */
export function pingInterval(packet: Packet): number | undefined {
  const interval = (packet.params as { interval?: unknown } | undefined)?.interval;
  return typeof interval === "number" && interval > 0 ? interval : undefined;
}
