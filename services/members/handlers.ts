/**
 * Members' answers: register, log in, remove. Passwords are kept as scrypt hashes (password.ts); a member a book's
 * program registered (MySQL's old PASSWORD()) gets one on their first login here.
 */
import { availableParallelism } from "node:os";
import { type Handlers, ServiceError, WorkQueue } from "../../mod.ts";
import type { members } from "./contract.ts";
import { checkPassword, DECOY_HASH, hashPassword, MEASURED_HASH_MS } from "./password.ts";
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
    "GET/members": async ({ username, password }, { deadline, log }) => {
      const member = await store.find(username);
      // Verify even for an unknown user, so the answer's timing does not tell which usernames exist.
      const check = await hashing.run(() => checkPassword(password, member?.password ?? DECOY_HASH), deadline);
      if (!member || !check.valid) throw new ServiceError("invalid password");
      if (check.rehash) {
        // The login stands even if the upgrade fails: the old hash still works, and the next login tries again.
        try {
          if (await store.upgradePassword(member.id, member.password, check.rehash)) {
            log.info("password upgraded", { userid: member.id, to: "salted scrypt hash" });
          }
        } catch (error) {
          log.warn("password upgrade failed", { userid: member.id }, error);
        }
      }
      return { userid: member.id };
    },
    "DELETE/members": async ({ username }) => void await store.remove(username),
  };
}
