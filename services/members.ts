/** Members (SPEC §5): `npx tsx services/members.ts [PORT]` (default 9020). Passwords are kept as scrypt hashes. */
import { availableParallelism } from "node:os";
import * as v from "valibot";
import { DECOY_HASH, hashPassword, MEASURED_HASH_MS, verifyPassword } from "../lib/password.ts";
import { ServiceError } from "../lib/service/errors.ts";
import { route } from "../lib/service/kit.ts";
import { text } from "../lib/service/params.ts";
import { runService } from "../lib/service/run.ts";
import { WorkQueue } from "../lib/service/work-queue.ts";

const username = v.pipe(text(128), v.minLength(1));
/** Bounded so that a huge password cannot make hashing a denial of service. */
const password = v.pipe(v.string(), v.maxLength(1024));

/**
 * Every hash waits its turn here, so a flood of signups and logins cannot queue hashing without end: what
 * cannot start within a second is refused at once as busy, and a hash whose caller has given up is never
 * computed. A second keeps a real user's login right after a flood quick, and is far below the gateway's
 * 5-second timeout.
 */
const hashing = new WorkQueue({
  name: "password hashing",
  concurrency: availableParallelism(),
  maxWaitMs: 1000,
  initialCostMs: MEASURED_HASH_MS,
});

await runService("members", 9020, ({ members }) => ({
  "POST/members": route(v.object({ username, password }), async (params, { deadline }) => {
    const hash = await hashing.run(() => hashPassword(params.password), deadline);
    const id = await members.add(params.username, hash);
    if (id === undefined) throw new ServiceError("duplicate username");
  }),
  "GET/members": route(v.object({ username, password }), async (params, { deadline }) => {
    const member = await members.find(params.username);
    // Verify even for an unknown user, so the answer's timing does not tell which usernames exist.
    const valid = await hashing.run(() => verifyPassword(params.password, member?.password ?? DECOY_HASH), deadline);
    if (!member || !valid) throw new ServiceError("invalid password");
    return { userid: member.id };
  }),
  "DELETE/members": route(v.object({ username }), async (params) => void await members.remove(params.username)),
}));
