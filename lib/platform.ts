/**
 * The platform's parts, to run in-process ("pilcrow/platform"): the distributor and the gateway. Not in mod.ts:
 * a service has no use for them, and the gateway loads Hono and an HTTP server.
 */
export { type Distributor, type DistributorOptions, startDistributor } from "./distributor.ts";
export { type Gateway, type GatewayOptions, startGateway } from "./gateway/gateway.ts";
