/**
 * Mesh connections ("pilcrow/tcp"): a packet server and a client that keeps many requests in flight on one
 * connection, both with the mesh's handshake (secret) and bounds. Services need none of this: runService and
 * `context.call` use it for them.
 */
// Its declarations use Node's types (node:util, node:net…): a user's tsc loads them even with "types": [].
/// <reference types="node" preserve="true" />
export { PacketClient, type PacketClientOptions } from "./client.ts";
export { type ConnectionOptions, PacketConnection } from "./connection.ts";
export {
  AnswerTooLargeError,
  ConnectionLostError,
  NotConnectedError,
  RequestTimeoutError,
  UnsendableError,
} from "./errors.ts";
export { listenPackets, type PacketServer, type PacketServerOptions } from "./server.ts";
