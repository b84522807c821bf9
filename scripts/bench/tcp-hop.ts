/**
 * The TCP hop alone: a PacketClient sends the gateway's request packet for `GET /goods` to the echo server in
 * another process, first with IN_FLIGHT requests outstanding at all times, then one at a time.
 * `… tcp-hop.ts PORT SECONDS IN_FLIGHT`; prints a JSON `result` line (messages and round trips per second).
 */
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments, exit } from "../../lib/runtime/mod.ts";
import { connectedClient } from "./connect.ts";

const [port, seconds, inFlight] = commandLineArguments().map(Number);
const log = createLogger({ name: "tcp-hop", format: "json", level: "warn" });
const REQUEST_TIMEOUT_MS = 5000;

const client = await connectedClient(port, log);

let nextKey = 0;
/** Keeps sending, one request after the other, until the deadline; returns how many were answered. */
async function lane(deadline: number): Promise<number> {
  let answered = 0;
  while (performance.now() < deadline) {
    const key = nextKey++;
    await client.request({ uri: "/goods", method: "GET", params: { key }, key }, REQUEST_TIMEOUT_MS);
    answered++;
  }
  return answered;
}

/** Answers per second with `lanes` requests outstanding at all times. */
async function rate(lanes: number, ms: number): Promise<number> {
  const started = performance.now();
  const counts = await Promise.all(Array.from({ length: lanes }, () => lane(started + ms)));
  return counts.reduce((sum, count) => sum + count, 0) / ((performance.now() - started) / 1000);
}

const ms = seconds * 1000;
await rate(inFlight, Math.min(1000, ms / 4));
const pipelined = await rate(inFlight, ms);
await rate(1, Math.min(500, ms / 4));
const oneAtATime = await rate(1, ms);
client.close();
createLogger({ name: "tcp-hop", format: "json" }).info("result", { pipelined, oneAtATime });
exit(0);
