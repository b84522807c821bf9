/**
 * Picks the implementation for the runtime we are on. `PILCROW_TCP=node` forces node:net and
 * `PILCROW_HTTP=node` forces @hono/node-server on Bun and Deno, so both paths can be compared and stay
 * tested; by default each runtime uses its own APIs (see README, "Runtimes").
 */
import { bunHttp, bunTcp } from "./bun.ts";
import { denoHttp, denoTcp } from "./deno.ts";
import { runtimeName } from "./detect.ts";
import { nodeHttp, nodeTcp } from "./node.ts";
import type { HttpImplementation, TcpImplementation } from "./types.ts";

export type ImplementationChoice = "native" | "node";

function choice(variable: string): ImplementationChoice {
  const value = process.env[variable] ?? "native";
  if (value !== "native" && value !== "node") {
    throw new Error(`${variable} must be "native" or "node", not ${JSON.stringify(value)}`);
  }
  return value;
}

export function tcpImplementation(wanted: ImplementationChoice = choice("PILCROW_TCP")): TcpImplementation {
  if (wanted === "node") return nodeTcp;
  return runtimeName === "bun" ? bunTcp : runtimeName === "deno" ? denoTcp : nodeTcp;
}

export function httpImplementation(wanted: ImplementationChoice = choice("PILCROW_HTTP")): HttpImplementation {
  if (wanted === "node") return nodeHttp;
  return runtimeName === "bun" ? bunHttp : runtimeName === "deno" ? denoHttp : nodeHttp;
}

export * from "./detect.ts";
export * from "./process.ts";
export * from "./types.ts";
