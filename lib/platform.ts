/**
 * The platform's parts, to run in-process ("pilcrow/platform"): the distributor, the gateway, and what the logs
 * service is made of (services/logs.ts is built on exactly these). Not in mod.ts: a service has no use for them,
 * and the gateway loads Hono and an HTTP server.
 */
// Its declarations use Node's types (node:util, node:net…): a user's tsc loads them even with "types": [].
/// <reference types="node" preserve="true" />
export { type Distributor, type DistributorOptions, startDistributor } from "./distributor.ts";
export { type Gateway, type GatewayOptions, startGateway } from "./gateway/gateway.ts";
export { RotatingFile } from "./logs/rotating-file.ts";
export {
  keepOwnLinesLocal,
  LOGS_OPTIONS,
  LOGS_PORT,
  LOGS_ROUTE,
  type LogsFileSettings,
  readLogsFileSettings,
} from "./logs/settings.ts";
