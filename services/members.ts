/** Members (docs/protocol.md §5): `npx tsx services/members.ts [PORT]` (default 9020). */
import { openStore, runService } from "../mod.ts";
import { members } from "./members/contract.ts";
import { membersHandlers } from "./members/handlers.ts";
import { membersStore } from "./members/store.ts";

await runService(members, {
  port: 9020,
  async start(context) {
    const { store, close } = await openStore("members", context, membersStore);
    return { handlers: membersHandlers(store), close };
  },
});
