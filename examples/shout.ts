/**
 * A service that calls another (README, "Calling another service"): `npx tsx examples/shout.ts 9041`. It
 * declares that it uses echo; `call` is typed from echo's contract, reaches echo through the mesh with the
 * same secret, heartbeats and failover as the gateway, and passes on what is left of the request's time.
 */
import { runService, ServiceError } from "../mod.ts";
import { echo, shout } from "./contracts.ts";

await runService(shout, {
  port: 9041,
  uses: [echo],
  start: () => ({
    handlers: {
      "GET/shout": async ({ text }, { call }) => {
        const answer = await call("GET/echo", { text });
        // Echo's failure, or why echo could not be reached ("echo could not be reached: …"), as this answer's.
        if (answer.errorcode !== 0) throw new ServiceError(answer.errormessage);
        return { shout: `${answer.echo.toUpperCase()}!` };
      },
    },
  }),
});
