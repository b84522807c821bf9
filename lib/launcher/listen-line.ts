/**
 * Recognises a child's `listen` line, in either log format, to learn the port it really listens on (it may
 * have been started on port 0). Human: `listen { address: '127.0.0.1', family: 'IPv4', port: 9000 }`;
 * JSON: `{"event":"listen","details":[{"address":"127.0.0.1","family":"IPv4","port":9000}],…}`.
 */
import type { ListenAddress } from "../runtime/mod.ts";

const HUMAN = /^listen \{ address: '([^']*)', family: '(IPv4|IPv6)', port: (\d+) \}$/;

export function listenAddressIn(line: string): ListenAddress | undefined {
  if (line.startsWith("{")) return listenEntryAddress(line);
  const match = HUMAN.exec(line);
  return match ? { address: match[1], family: match[2] as ListenAddress["family"], port: Number(match[3]) } : undefined;
}

function listenEntryAddress(line: string): ListenAddress | undefined {
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return undefined;
  }
  const address = entry?.event === "listen" && Array.isArray(entry.details) ? entry.details[0] : undefined;
  const valid = typeof address?.address === "string" && (address.family === "IPv4" || address.family === "IPv6")
    && Number.isInteger(address.port);
  return valid ? { address: address.address, family: address.family, port: address.port } : undefined;
}
