/**
 * How a child tells the launcher it is ready, whatever its log level and format: the launcher starts it with
 * PILCROW_SUPERVISED set to a random nonce, new for each start, and once listening (and registered, for a node)
 * the child writes one control line to its stdout, `READY_PREFIX`, the nonce and its address as JSON, which the
 * launcher consumes and never shows. The nonce is the proof: a line that merely looks like one (a logged request,
 * a user's service printing it, a second one) is shown as ordinary output and readies nothing.
 */
import { randomUUID } from "node:crypto";
import type { ReceivesAt } from "../mesh/core.ts";

export type { ReceivesAt };

export const SUPERVISED_VARIABLE = "PILCROW_SUPERVISED";
export const READY_PREFIX = "pilcrow:ready ";

/** A new nonce for one start of a child: unguessable by anything that does not read its environment. */
export function newNonce(): string {
  return randomUUID();
}

export function readyLine(nonce: string, address: ReceivesAt): string {
  return `${READY_PREFIX}${nonce} ${JSON.stringify(address)}\n`;
}

/**
 * The address (or NATS subject) in the control line of the start that was given `nonce`; undefined for any other
 * line (a log line, a control line with another nonce or none, a malformed one).
 */
export function readyAddressIn(line: string, nonce: string): ReceivesAt | undefined {
  const prefix = `${READY_PREFIX}${nonce} `;
  if (nonce === "" || !line.startsWith(prefix)) return undefined;
  let address;
  try {
    address = JSON.parse(line.slice(prefix.length));
  } catch {
    return undefined;
  }
  if (typeof address?.subject === "string" && Object.keys(address).length === 1) {
    return /^[A-Za-z0-9_.-]{1,256}$/.test(address.subject) ? { subject: address.subject } : undefined;
  }
  const valid = typeof address?.address === "string" && (address.family === "IPv4" || address.family === "IPv6")
    && Number.isInteger(address.port) && address.port > 0 && address.port <= 65_535;
  return valid ? { address: address.address, family: address.family, port: address.port } : undefined;
}
