/** A fourth service in a few lines (README, "Writing a service of your own"): `npx tsx examples/echo.ts 9040`. */
import * as v from "valibot";
import { route, runMain, ServiceError, startService } from "../mod.ts";

await runMain("echo", 9040, async (config, log) => {
  const service = await startService({
    name: "echo",
    hostname: config.host,
    port: config.port,
    distributor: config.distributor,
    log,
    routes: {
      "GET/echo": route(v.object({ text: v.pipe(v.string(), v.maxLength(100)) }), async ({ text }) => {
        if (text === "") throw new ServiceError("nothing to echo");
        return { echo: text };
      }),
    },
  });
  return { stop: () => service.close() };
});
