/** Members' answers: register, log in, remove. Passwords are kept as scrypt hashes (password.ts). */
import { availableParallelism } from "node:os";
import { type Handlers, ServiceError, WorkQueue } from "../../mod.ts";
import type { members } from "./contract.ts";
import { DECOY_HASH, hashPassword, MEASURED_HASH_MS, verifyPassword } from "./password.ts";
import type { MembersStore } from "./store.ts";

export function membersHandlers(store: MembersStore): Handlers<typeof members> {
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
  return {
    "POST/members": async ({ username, password }, { deadline }) => {
      const hash = await hashing.run(() => hashPassword(password), deadline);
      const id = await store.add(username, hash);
      if (id === undefined) throw new ServiceError("duplicate username");
    },
    "GET/members": async ({ username, password }, { deadline }) => {
      const member = await store.find(username);
      // Verify even for an unknown user, so the answer's timing does not tell which usernames exist.
      const valid = await hashing.run(() => verifyPassword(password, member?.password ?? DECOY_HASH), deadline);
      if (!member || !valid) throw new ServiceError("invalid password");
      return { userid: member.id };
    },
    "DELETE/members": async ({ username }) => void await store.remove(username),
  };
}
