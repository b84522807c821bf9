/** Members (SPEC §5): `npx tsx services/members.ts [PORT]` (default 9020). Passwords are kept as scrypt hashes. */
import * as v from "valibot";
import { DECOY_HASH, hashPassword, verifyPassword } from "../lib/password.ts";
import { ServiceError } from "../lib/service/errors.ts";
import { route } from "../lib/service/kit.ts";
import { text } from "../lib/service/params.ts";
import { runService } from "../lib/service/run.ts";

const username = v.pipe(text(128), v.minLength(1));
/** Bounded so that a huge password cannot make hashing a denial of service. */
const password = v.pipe(v.string(), v.maxLength(1024));

await runService("members", 9020, ({ members }) => ({
  "POST/members": route(v.object({ username, password }), async (params) => {
    const id = await members.add(params.username, await hashPassword(params.password));
    if (id === undefined) throw new ServiceError("duplicate username");
  }),
  "GET/members": route(v.object({ username, password }), async (params) => {
    const member = await members.find(params.username);
    // Verify even for an unknown user, so the answer's timing does not tell which usernames exist.
    const valid = await verifyPassword(params.password, member?.password ?? DECOY_HASH);
    if (!member || !valid) throw new ServiceError("invalid password");
    return { userid: member.id };
  }),
  "DELETE/members": route(v.object({ username }), async (params) => void await members.remove(params.username)),
}));
