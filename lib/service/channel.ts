/**
 * Where a service writes the answer to one packet: the TCP connection it came on (lib/tcp/connection.ts), or the
 * reply of a NATS request (lib/mesh/nats/responder.ts). The kit answers both alike.
 */
import type { Packet } from "../wire/packet.ts";

export interface AnswerChannel {
  /** Nothing more can be written (the connection closed): an answer finished late is dropped. */
  readonly closed: boolean;
  send(packet: Packet): unknown;
  /** An encoded ¶ frame (lib/wire/codec.ts frameText). */
  sendFrame(frame: string): unknown;
}
