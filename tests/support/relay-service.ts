/** The relay service (call-contracts.ts): calls nap and a book-protocol service from its handlers, and says how it went. */
import { runService } from "../../mod.ts";
import { book, nap, relay } from "./call-contracts.ts";

await runService(relay, {
  port: 0,
  uses: [nap, book],
  start: () => ({
    handlers: {
      "GET/relay/nap": async ({ ms, waitMs }, { call }) => {
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        const started = Date.now();
        const answer = await call("GET/nap", { ms });
        const { errorcode, errormessage } = answer;
        const tookMs = Date.now() - started;
        return {
          call: { errorcode, errormessage, tookMs },
          ...(answer.errorcode === 0 ? { slept: answer.slept } : {}),
        };
      },
      "GET/relay/book": async ({ text }, { call }) => {
        const started = Date.now();
        const answer = await call("GET/book", { text });
        const { errorcode, errormessage } = answer;
        const tookMs = Date.now() - started;
        return { call: { errorcode, errormessage, tookMs }, ...(answer.errorcode === 0 ? { echo: answer.echo } : {}) };
      },
    },
  }),
});
