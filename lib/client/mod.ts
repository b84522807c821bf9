/**
 * The typed gateway client ("pilcrow/client") and what it takes its types from: fetch and valibot only, so it
 * runs in browsers as on Node, Bun and Deno.
 */
export {
  type Answer,
  type AnswerOut,
  type Contract,
  defineService,
  type Failure,
  type ParamsIn,
  type RouteKey,
  type RoutesOf,
  type Success,
} from "../contract/contract.ts";
export {
  type GatewayClient,
  gatewayClient,
  type GatewayClientOptions,
  type HttpAnswer,
  type HttpCallOptions,
} from "./gateway-client.ts";
