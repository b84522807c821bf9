/**
 * One request through the mesh: to the next live instance of its route, again to another when that is safe
 * (a GET whose connection dropped, or any request an instance refused as busy: it did nothing), until the
 * caller's deadline. Every failure becomes a MeshError of its kind.
 */
import type { Logger } from "../log.ts";
import {
  AnswerTooLargeError,
  ConnectionLostError,
  NotConnectedError,
  RequestTimeoutError,
  RequestTooLargeError,
  UnsendableError,
} from "../tcp/errors.ts";
import { closeSpan, openSpan, recording, SpanKind } from "../trace/spans.ts";
import type { Packet } from "../wire/packet.ts";
import { type MeshAnswer, MeshError, type MeshRequestOptions } from "./core.ts";
import { type Instance, type InstancePool, NO_LIVE_INSTANCE, UNKNOWN_ROUTE } from "./pool.ts";

/** The packet of a request as the mesh sends it (docs/protocol.md §3, §9). */
type RequestPacket = {
  uri: string;
  method: string;
  params: Record<string, unknown>;
  key: number;
  /** The ms left until the deadline when sent (book services ignore it). */
  timeout: number;
  idempotencyKey?: string;
  /** W3C Trace Context of the hop (docs/protocol.md §11): book services ignore it. */
  traceparent?: string;
};

/** How soon a caller may try again when no instance is live: connections are remade within about a second. */
const NO_INSTANCE_RETRY_AFTER_SECONDS = 1;

/** A service cannot make callers stay away longer than this. */
const MAX_RETRY_AFTER_SECONDS = 60;

/**
 * Sends `params` for `route` (`GET/goods`) with `key`. The packet keeps the book's shape — the key inside
 * params, where book services read it, and at the top level — and carries `timeout`, the ms left until the
 * deadline when it is sent (book services ignore it), so that the service can drop work nobody waits for.
 */
export async function sendRequest(
  pool: InstancePool,
  nodeLog: Logger,
  key: number,
  route: string,
  params: Record<string, unknown>,
  options: MeshRequestOptions,
): Promise<MeshAnswer> {
  const { deadline } = options;
  const log = options.log ?? nodeLog;
  const slash = route.indexOf("/");
  const method = route.slice(0, slash);
  const uri = route.slice(slash);
  const waitMs = deadline - Date.now();
  if (!(waitMs > 0)) throw new MeshError("timeout", `no time was left to send ${shown(method, uri)}`);
  const resend = options.resend ?? method === "GET";
  const { idempotencyKey } = options;
  const packet: RequestPacket = { uri, method, params: { ...params, key }, key, timeout: waitMs };
  // Only when given, so that a request without one keeps the book's shape (and no spread on the common path).
  if (idempotencyKey !== undefined) packet.idempotencyKey = idempotencyKey;
  // Allocated only when a second instance is needed: the common request never needs one.
  let tried: Set<Instance> | undefined;
  /** The last busy refusal, the answer when no other instance is left to try. */
  let refusal: { answer: MeshAnswer; retryAfter: number } | undefined;
  /** Set once a keyed request is resent: from then on only Pilcrow instances, which honour the key, get it. */
  let pilcrowOnly = false;
  /** Whether a connection dropped with the request on it: until then, every instance tried was never sent it. */
  let lostOne = false;
  /** Set when a NATS instance could not be sent the request for its size: one over TCP may still take it. */
  let tooLarge: RequestTooLargeError | undefined;
  for (;;) {
    const instance = pool.pick(route, tried);
    if (instance === UNKNOWN_ROUTE) throw new MeshError("unknown-route", `no service serves ${shown(method, uri)}`);
    // A keyed request resent after a lost connection: a book instance would do it a second time.
    if (pilcrowOnly && typeof instance === "object" && instance.node.pilcrow === undefined) {
      (tried ??= new Set()).add(instance);
      continue;
    }
    if (instance === NO_LIVE_INSTANCE) {
      if (refusal) throw new MeshError("busy", busyMessage(refusal.answer.packet), refusal.retryAfter, refusal.answer);
      if (tooLarge && !lostOne) {
        throw new MeshError(
          "request-too-large",
          `the request for ${
            shown(method, uri)
          } is ${tooLarge.bytes} bytes, more than the mesh carries (${tooLarge.limit})`,
        );
      }
      if (!lostOne) {
        throw new MeshError(
          "no-instance",
          `no live instance serves ${shown(method, uri)}`,
          NO_INSTANCE_RETRY_AFTER_SECONDS,
        );
      }
      throw new MeshError("lost", `connection to the service was lost during ${shown(method, uri)}`);
    }
    const { counts } = instance;
    counts.requests++;
    // A hop is a span of its own only while an SDK records; else the trace goes on as it came.
    const hop = options.trace && recording()
      ? openSpan(route, SpanKind.CLIENT, options.trace, () => ({
        "pilcrow.instance": instance.id,
        "pilcrow.service": instance.name,
      }))
      : undefined;
    const trace = hop?.context ?? options.trace;
    if (trace) packet.traceparent = trace.traceparent;
    try {
      const answer = await instance.client.requestAnswer(packet, packet.timeout);
      if (answer.errorcode !== 0) counts.errors++;
      if (hop) closeSpan(hop, answer.errorcode !== 0 ? "errorcode 1" : undefined);
      const retryAfter = retryAfterOf(answer);
      if (retryAfter === undefined) return answer;
      refusal = { answer, retryAfter };
    } catch (error) {
      if (hop) closeSpan(hop, (error as Error).message);
      if (error instanceof NotConnectedError || error instanceof RequestTooLargeError) counts.requests--;
      else if (error instanceof RequestTimeoutError) counts.timeouts++;
      else counts.errors++;
      if (error instanceof RequestTimeoutError) {
        log.warn("timeout", route, instance.id, `${waitMs} ms`);
        throw new MeshError("timeout", `the service did not answer ${shown(method, uri)} within ${waitMs} ms`);
      }
      // Not sent for its size: the other instances are tried, though only those over TCP (a gateway on both
      // meshes) can take it; with none, it fails as too large (above).
      if (error instanceof RequestTooLargeError) tooLarge = error;
      if (error instanceof AnswerTooLargeError) {
        // Not sent again: another instance would most likely answer the same.
        log.warn("answer too large", route, instance.id, error.message);
        throw new MeshError("too-large", `the service's answer to ${shown(method, uri)} was too large to pass on`);
      }
      // Not connected (it went between the pick and the send, or NATS found nobody on its subject), or too large
      // for NATS: nothing was sent, so any request may go on.
      if (!(error instanceof NotConnectedError || error instanceof RequestTooLargeError)) {
        if (!(error instanceof ConnectionLostError || error instanceof UnsendableError)) throw error;
        log.warn("connection lost", route, instance.id);
        lostOne = true;
        // The lost instance may have done it before it went: only what the caller says is safe goes again, and
        // a request with an idempotency key, which a Pilcrow instance does once per key (docs/protocol.md §9).
        if (!resend) {
          if (idempotencyKey === undefined || instance.node.pilcrow === undefined) {
            throw new MeshError("lost", `connection to the service was lost during ${shown(method, uri)}`);
          }
          pilcrowOnly = true;
        }
      }
    }
    (tried ??= new Set()).add(instance);
    packet.timeout = deadline - Date.now();
    if (!(packet.timeout > 0)) {
      throw new MeshError("timeout", `the service did not answer ${shown(method, uri)} within ${waitMs} ms`);
    }
  }
}

/** `GET /goods`, short enough for a message however long the path. */
function shown(method: string, uri: string): string {
  return `${method.slice(0, 16)} ${uri.length > 100 ? `${uri.slice(0, 100)}…` : uri}`;
}

/** The seconds a service's busy refusal (`errorcode 1` with `retryAfter`) asks the caller to wait, if it is one. */
function retryAfterOf(answer: MeshAnswer): number | undefined {
  if (answer.errorcode !== 1) return undefined;
  const { retryAfter } = answer.packet;
  if (typeof retryAfter !== "number" || !(retryAfter > 0)) return undefined;
  return Math.ceil(Math.min(retryAfter, MAX_RETRY_AFTER_SECONDS));
}

function busyMessage(answer: Packet): string {
  return typeof answer.errormessage === "string" ? answer.errormessage : "every instance is busy";
}
