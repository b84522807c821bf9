/**
 * A user's service file (`pilcrow up --service`) that never listens but prints what looks like the launcher's
 * readiness line (lib/launcher/readiness.ts): without a nonce, with a guessed one, on stderr, and malformed. None
 * of them may count: the launcher must time out on it. It stops, as a supervised child does, when its stdin ends.
 */
import process from "node:process";
import { READY_PREFIX } from "../../lib/launcher/readiness.ts";

const address = JSON.stringify({ address: "127.0.0.1", family: "IPv4", port: 1 });
process.stdout.write(`${READY_PREFIX}${address}\n`);
process.stdout.write(`${READY_PREFIX}00000000-0000-0000-0000-000000000000 ${address}\n`);
process.stderr.write(`${READY_PREFIX}${process.env.PILCROW_SUPERVISED} ${address}\n`);
process.stdout.write(`${READY_PREFIX}${process.env.PILCROW_SUPERVISED} {"address":\n`);
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
