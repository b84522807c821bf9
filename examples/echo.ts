/** A service of your own in a few lines (README, "Writing a service"): `npx tsx examples/echo.ts 9040`. */
import { runService, ServiceError } from "../mod.ts";
import { echo } from "./contracts.ts";

await runService(echo, {
  port: 9040,
  start: () => ({
    handlers: {
      "GET/echo": async ({ text }) => {
        if (text === "") throw new ServiceError("nothing to echo");
        return { echo: text };
      },
    },
  }),
});
