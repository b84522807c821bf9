/**
 * The no-hop limit: the answer the gateway gives to `GET /goods`, built and served by a bare Hono app on the
 * runtime's own HTTP server (the same one the gateway uses). `… bare-hono.ts [PORT]`; prints a JSON `listen` line.
 */
import { Hono } from "hono";
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments, httpImplementation } from "../../lib/runtime/mod.ts";
import { goodsAnswer } from "./fixture.ts";

let nextKey = 0;
const app = new Hono();
app.get("/goods", (c) => c.json(goodsAnswer(nextKey++)));

const port = Number(commandLineArguments()[0] ?? 0);
const server = await (await httpImplementation()).serve({ hostname: "127.0.0.1", port, fetch: app.fetch });
createLogger({ name: "bare-hono", format: "json" }).info("listen", server.address);
