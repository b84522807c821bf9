/**
 * Pilcrow for service authors: declare a service once (defineService), run it (runService), call the services
 * it uses from its handlers (`context.call`), and keep its data (openStore). The shipped services use exactly
 * this, and nothing else of Pilcrow. Other entry points, each loading only what it needs:
 * "pilcrow/client" (the typed gateway client, fetch only: browsers too), "pilcrow/platform" (the distributor
 * and the gateway, in-process), and the lower layers "pilcrow/wire" (the ¶ codec), "pilcrow/tcp" (packet
 * server and client) and "pilcrow/runtime" (each runtime's TCP, HTTP and process glue).
 */
// Its declarations use Node's types (node:util, node:net…): a user's tsc loads them even with "types": [].
/// <reference types="node" preserve="true" />

// Declaring a service: its contract, and schemas for params as the gateway and the book's clients send them.
export {
  type Answer,
  type AnswerIn,
  type AnswerOut,
  type Contract,
  defineService,
  type Failure,
  type ParamsIn,
  type ParamsOut,
  type RouteKey,
  type RoutesOf,
  type RouteSpec,
  type Success,
} from "./lib/contract/contract.ts";
export {
  integer,
  integerList,
  LONG_TEXT_CHARS,
  MAX_PAGE_ROWS,
  page,
  PAGING_ADVICE,
  text,
} from "./lib/service/params.ts";

// Running it: handlers, their context, calls to other services, failures, bounded work.
export { DEFAULT_CALL_TIMEOUT_MS } from "./lib/service/caller.ts";
export { DeadlinePassedError, INVALID_PARAMETERS, ServiceBusyError, ServiceError } from "./lib/service/errors.ts";
export type {
  AdvisedHandler,
  Caller,
  CallOptions,
  Handler,
  HandlerAnswer,
  Handlers,
  RequestContext,
} from "./lib/service/handlers.ts";
export {
  DEFAULT_DRAIN_MS,
  DEFAULT_MAX_IN_FLIGHT,
  type RunningService,
  type ServiceOptions,
  startService,
} from "./lib/service/kit.ts";
export { runService, type ServiceDefinition, type StartContext, type StartedService } from "./lib/service/run.ts";
export { WorkQueue, type WorkQueueOptions } from "./lib/service/work-queue.ts";

// Its data: one store per service, one implementation on SqlDatabase, embedded on SQLite or on MySQL.
export { IN_MEMORY } from "./lib/config.ts";
export { nowToTheSecond, type Page, StoreError, type StoreErrorKind } from "./lib/store/contract.ts";
export { type OpenedStore, openStore, type StoreContext } from "./lib/store/open.ts";
export {
  inIdOrder,
  placeholders,
  type SqlDatabase,
  type SqlDialect,
  type SqlTable,
  type TableSpec,
  UnstorableTextError,
} from "./lib/store/sql.ts";

// A program of one's own in the mesh: its command line, its log, and the mesh core for requests.
export { type CommonConfig, type Endpoint, parseCommandLine, parseEndpoint, UsageError } from "./lib/config.ts";
export { createLogger, type LogFormat, type Logger, type LogLevel } from "./lib/log.ts";
export { runMain, type Running } from "./lib/main.ts";
export { type MeshAnswer, type MeshCore, MeshError, type MeshFailure } from "./lib/mesh/core.ts";
export { joinMesh, type Mesh, type MeshOptions } from "./lib/mesh/mesh.ts";
