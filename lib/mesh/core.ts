/**
 * The mesh core's contract: what any node — the gateway, a service calling another — uses to reach the
 * instances of a route. One implementation (mesh.ts) learns routes from the distributor's notifications,
 * keeps one connection per instance, chooses round robin per route, checks liveness with heartbeats, fails
 * fast when a connection drops, sends a GET (or a request refused as busy) again to another instance, and
 * gives up at the caller's deadline. Callers see only this interface, so the gateway's HTTP face can be
 * tested in-process against a stand-in.
 */
import type { Logger } from "../log.ts";
import type { ListenAddress } from "../runtime/types.ts";
import type { TraceContext } from "../trace/traceparent.ts";
import type { Packet } from "../wire/packet.ts";

/** Where a node receives requests: the address it listens on, or its own subject on the NATS mesh. */
export type ReceivesAt = ListenAddress | { subject: string };

/** Why a request got no answer from a service. */
export type MeshFailure =
  /** No instance ever served the route. */
  | "unknown-route"
  /** The route is known, but no instance of it is live now. */
  | "no-instance"
  /** Every live instance refused it as busy (it was not run); `retryAfter` says when to try again. */
  | "busy"
  /** No answer by the deadline. */
  | "timeout"
  /** The connection dropped while the request was in flight (and it was not safe to send again). */
  | "lost"
  /** The answer was larger than this node accepts. */
  | "too-large"
  /** The request was larger than the mesh carries (a NATS server's max_payload); it was not sent. */
  | "request-too-large";

export class MeshError extends Error {
  override name = "MeshError";
  constructor(
    readonly failure: MeshFailure,
    message: string,
    /** For `busy` and `no-instance`: seconds after which trying again makes sense. */
    readonly retryAfter?: number,
    /** For `busy`: the last refusal as the service sent it (the gateway passes it on as its body). */
    readonly answer?: MeshAnswer,
  ) {
    super(message);
  }
}

/**
 * An answer as it came (lib/wire/answer.ts): its JSON, to pass on as it is, and its packet, parsed when first read
 * (an answer whose key and errorcode 0 were read from its head is never parsed by a gateway that relays it).
 */
export interface MeshAnswer {
  /** Its errorcode, known without parsing the rest. */
  readonly errorcode: unknown;
  readonly packet: Packet;
  readonly text: string;
  /** Its JSON as it came, bytes or text: an HTTP answer's body. */
  readonly body: string | Uint8Array<ArrayBuffer>;
}

export interface MeshRequestOptions {
  /** Date.now() past which nobody waits: the request fails with `timeout` then, and is sent with what is left. */
  deadline: number;
  /** Send again to another instance when the connection drops mid-request. Default: only for GET. */
  resend?: boolean;
  /**
   * The request's Idempotency-Key (docs/protocol.md §9), sent as the packet's `idempotencyKey`. A Pilcrow instance
   * does such a request once per key, so one whose connection dropped may go again to another Pilcrow instance
   * (never to a book one, which ignores the key).
   */
  idempotencyKey?: string;
  /** The span this request is part of: each hop to an instance is a span under it, its `traceparent` sent along. */
  trace?: TraceContext;
  /** Where lines about this request go: a child logger with its ids (default: the node's log). */
  log?: Logger;
}

export interface MeshCore {
  /**
   * Sends a request for `route` (`GET/goods`) with `params` to a live instance and resolves with its answer
   * (whatever its errorcode); rejects with a MeshError when no service answered.
   */
  request(route: string, params: Record<string, unknown>, options: MeshRequestOptions): Promise<MeshAnswer>;
}
