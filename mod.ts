/**
 * Pilcrow's public API: what a user imports to write a service of their own or to run the parts.
 */
export { parseCommandLine, parseEndpoint, UsageError } from "./lib/config.ts";
export type { CommonConfig, Endpoint } from "./lib/config.ts";
export { type Distributor, type DistributorOptions, startDistributor } from "./lib/distributor.ts";
export { type Gateway, type GatewayOptions, startGateway } from "./lib/gateway/gateway.ts";
export { createLogger, type LogFormat, type Logger, type LogLevel } from "./lib/log.ts";
export { runMain, type Running } from "./lib/main.ts";
export { joinMesh, type MeshMember, type MeshMemberOptions } from "./lib/mesh-member.ts";
export { httpImplementation, runtimeName, tcpImplementation } from "./lib/runtime/mod.ts";
export { ServiceError } from "./lib/service/errors.ts";
export {
  type Answer,
  type Route,
  route,
  type RunningService,
  type ServiceOptions,
  startService,
} from "./lib/service/kit.ts";
export { integer, text } from "./lib/service/params.ts";
export type { Goods, GoodsStore, Member, MembersStore, Purchase, PurchasesStore, Store } from "./lib/store/contract.ts";
export { openStore } from "./lib/store/open.ts";
export { PacketClient, type PacketClientOptions } from "./lib/tcp/client.ts";
export { PacketConnection } from "./lib/tcp/connection.ts";
export { ConnectionLostError, NotConnectedError, RequestTimeoutError } from "./lib/tcp/errors.ts";
export { listenPackets, type PacketServer, type PacketServerOptions } from "./lib/tcp/server.ts";
export { encodePacket, FrameDecoder, frameText } from "./lib/wire/codec.ts";
export type { Method, NodeInfo, Packet } from "./lib/wire/packet.ts";
