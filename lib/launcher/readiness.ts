/**
 * How a child tells the launcher it is ready, whatever its log level and format: the launcher starts it with
 * PILCROW_SUPERVISED=1, and once listening (and registered, for a node) the child writes one control line to its
 * stdout, `READY_PREFIX` and its address as JSON, which the launcher consumes and never shows.
 */
import type { ListenAddress } from "../runtime/mod.ts";

export const SUPERVISED_VARIABLE = "PILCROW_SUPERVISED";
export const READY_PREFIX = "pilcrow:ready ";

export function readyLine(address: ListenAddress): string {
  return `${READY_PREFIX}${JSON.stringify(address)}\n`;
}

/** The address in a control line; undefined for any other line (a log line), or a malformed control line. */
export function readyAddressIn(line: string): ListenAddress | undefined {
  if (!line.startsWith(READY_PREFIX)) return undefined;
  let address;
  try {
    address = JSON.parse(line.slice(READY_PREFIX.length));
  } catch {
    return undefined;
  }
  const valid = typeof address?.address === "string" && (address.family === "IPv4" || address.family === "IPv6")
    && Number.isInteger(address.port);
  return valid ? { address: address.address, family: address.family, port: address.port } : undefined;
}
