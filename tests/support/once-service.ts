/**
 * A user's service file (`pilcrow up --ports free --service`) that works on its first start and exits at once (code
 * 3) on every restart: a service whose database went away after it had been running. The launcher starts it on
 * port 0 the first time and on the port it got afterwards, which is how it tells the two apart.
 */
import process from "node:process";
import { echo } from "../../examples/contracts.ts";
import { runService } from "../../mod.ts";

const portIndex = process.argv.indexOf("--port");
if (portIndex !== -1 && process.argv[portIndex + 1] !== "0") {
  process.stderr.write("once-service: cannot start again (its database is away)\n");
  process.exit(3);
}

await runService(echo, {
  port: 0,
  start: () => ({ handlers: { "GET/echo": async ({ text }) => ({ echo: text }) } }),
});
