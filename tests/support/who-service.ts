/** The who service (call-contracts.ts): answers with its process id after `ms`, on whichever mesh it is given. */
import process from "node:process";
import { runService } from "../../mod.ts";
import { who } from "./call-contracts.ts";

const answer = async ({ ms }: { ms?: number }) => {
  if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
  return { pid: process.pid };
};

await runService(who, { port: 0, start: () => ({ handlers: { "GET/who": answer, "POST/who": answer } }) });
