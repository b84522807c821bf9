/**
 * What a node needs of its way to one instance, whichever mesh it is on: a TCP connection (lib/tcp/client.ts
 * PacketClient) or a NATS subject (nats/link.ts NatsLink). The pool routes over it and checks liveness through it;
 * request.ts sends over it and reads the same errors from both (lib/tcp/errors.ts).
 */
import type { Packet } from "../wire/packet.ts";
import type { MeshAnswer } from "./core.ts";

export interface InstanceLink {
  /** Able to send now (and, on TCP with a secret, authenticated). */
  readonly connected: boolean;
  /** Requests sent and not yet answered. */
  readonly inFlight: number;
  /** When the instance last sent anything (Date.now()): what liveness reads. */
  readonly lastReceivedAt: number;
  /** Starts connecting: `connected` is reported through the events given at construction. */
  open(): this;
  /** Sends a packet that expects no answer of its own (a ping: its pong comes as unsolicited). */
  send(packet: Packet): boolean;
  /**
   * Sends a request and resolves with its answer. Rejects with NotConnectedError when nothing was sent (safe to
   * send elsewhere), RequestTimeoutError, ConnectionLostError or UnsendableError (lib/tcp/errors.ts).
   */
  requestAnswer(packet: Packet & { key: number }, timeoutMs: number): Promise<MeshAnswer>;
  /** The instance looks gone (no heartbeat): drop what is in flight and connect again. */
  reset(): void;
  /** No new requests; those in flight still get their answers. */
  retire(): void;
  close(): void;
}

/** What a link reports to the pool. */
export interface LinkEvents {
  connected(link: InstanceLink): void;
  disconnected(link: InstanceLink, error?: Error): void;
  /** Packets that answer no request in flight: pongs. */
  unsolicited(packet: Packet): void;
}
