/**
 * Turns a request packet into the frame of its answer, with the request's key (docs/protocol.md §2: `params.key`, as the
 * book's gateway sends it, or the top-level `key`). An answer is never larger than a peer takes: the mesh's
 * frame limit (the decoder's) holds for what a service sends too, and a bigger answer becomes a refusal that
 * says so — sending it would make the gateway's decoder drop it, or on older peers the whole connection.
 */
import { Buffer } from "node:buffer";
import * as v from "valibot";
import type { Contract } from "../contract/contract.ts";
import type { Logger } from "../log.ts";
import { StoreError } from "../store/contract.ts";
import { IdempotencyKeyReusedError } from "../store/idempotency.ts";
import { closeSpan, openSpan, SpanKind, withActiveSpan } from "../trace/spans.ts";
import { parseTraceparent, type TraceContext } from "../trace/traceparent.ts";
import { DEFAULT_MAX_FRAME_BYTES, frameText } from "../wire/codec.ts";
import type { Packet } from "../wire/packet.ts";
import {
  DeadlinePassedError,
  INVALID_PARAMETERS,
  RETRY_AFTER_SECONDS,
  ServiceBusyError,
  ServiceError,
} from "./errors.ts";
import type { RequestContext } from "./handlers.ts";
import {
  type IdempotencyOptions,
  idempotencyRunner,
  isIdempotencyKey,
  isKeyReused,
  KEY_REUSED,
} from "./idempotency.ts";

/** A route as the kit runs it: the contract's params schema and the handler, untyped. */
export interface Route {
  params: v.GenericSchema;
  handle(params: unknown, context: RequestContext<Contract>): Promise<Record<string, unknown> | void>;
  tooLargeAdvice?: string;
}

/** An answer packet (docs/protocol.md §5): the request's key, the outcome, and a handler's extra fields. */
interface AnswerPacket {
  key: unknown;
  errorcode: 0 | 1;
  errormessage: string;
  [extra: string]: unknown;
}

/** Bytes of the `¶` that ends a frame, which the decoder's limit does not count. */
const FRAME_END_BYTES = 2;

/**
 * Resolves to a function that gives the answer's frame, or to undefined for a request dropped unrun; never
 * rejects. The frame is built only when it is sent: a burst of big answers to a peer that is being dropped
 * (it does not read) must not all be encoded and held at once — only those sent before it is dropped are.
 */
/** A request's context as the kit makes it: the handler's span is set on it before the handler runs. */
export interface TracedContext extends RequestContext<Contract> {
  trace?: TraceContext;
}

/** Hears of every request a route's handler ran: how long it took, and whether it failed (errorcode 1). */
export type HandledObserver = (routeKey: string, ms: number, failed: boolean) => void;

export function answerer(
  routes: Record<string, Route>,
  log: Logger,
  idempotency?: IdempotencyOptions,
  handled?: HandledObserver,
): (packet: Packet, context: TracedContext) => Promise<(() => string) | undefined> {
  const once = idempotency && idempotencyRunner(idempotency, log);
  return async (packet, context) => {
    const key = keyOf(packet);
    if (typeof packet.method !== "string" || typeof packet.uri !== "string") {
      return () => frameText(failure(key, "a request needs a string uri and method"));
    }
    const routeKey = `${packet.method}${packet.uri}`;
    const route = Object.hasOwn(routes, routeKey) ? routes[routeKey] : undefined;
    if (!route) return () => frameText(failure(key, `unknown route ${routeKey.slice(0, 100)}`));
    const parsed = v.safeParse(route.params, isRecord(packet.params) ? packet.params : {});
    if (!parsed.success) return () => frameText(failure(key, INVALID_PARAMETERS));
    // docs/protocol.md §9: a key makes a request that is not a GET run once; a GET is safe to repeat anyway.
    const { idempotencyKey } = packet;
    const keyed = idempotencyKey !== undefined && packet.method !== "GET";
    if (keyed && !isIdempotencyKey(idempotencyKey)) {
      return () => frameText(failure(key, "malformed idempotency key: 1 to 255 printable ASCII characters"));
    }
    const handle = async () => ({
      errorcode: 0,
      errormessage: "success",
      ...await route.handle(parsed.output, context),
    });
    let answer: AnswerPacket;
    const startedAt = performance.now();
    // The handler's span, under the hop that brought the request (or the root of a trace a book peer started).
    const span = openSpan(routeKey, SpanKind.SERVER, parseTraceparent(packet.traceparent));
    context.trace = span.context;
    try {
      answer = {
        key,
        ...await withActiveSpan(
          span,
          () => keyed && once ? once(routeKey, idempotencyKey as string, packet.params, handle) : handle(),
        ),
      } as AnswerPacket;
      handled?.(routeKey, performance.now() - startedAt, answer.errorcode !== 0);
      closeSpan(span);
    } catch (error) {
      handled?.(routeKey, performance.now() - startedAt, true);
      closeSpan(span, (error as Error)?.message ?? String(error));
      if (isKeyReused(error)) {
        return () => frameText({ ...failure(key, new IdempotencyKeyReusedError().message), idempotency: KEY_REUSED });
      }
      // Nobody waits for it (the caller's deadline passed before its turn): an answer would only be noise.
      if (error instanceof DeadlinePassedError) return void context.log.debug("deadline passed, not run", routeKey);
      if (error instanceof ServiceBusyError) return () => frameText(busy(key, error.message));
      if (error instanceof ServiceError) return () => frameText(failure(key, error.message));
      // Details (driver errors may quote SQL) go to the log only; the client gets a short message.
      if (error instanceof StoreError) {
        context.log.error("database error", routeKey, (error.cause as Error)?.message ?? error.cause);
        return () => frameText(failure(key, error.message));
      }
      context.log.error("internal error", routeKey, error);
      return () => frameText(failure(key, "Internal Error"));
    }
    return () => sendableFrame(answer, routeKey, route.tooLargeAdvice, context.log);
  };
}

/** The frame of a handler's answer, or of a refusal saying why it cannot be sent. */
function sendableFrame(answer: AnswerPacket, routeKey: string, advice: string | undefined, log: Logger): string {
  let frame: string;
  try {
    frame = frameText(answer);
  } catch (error) {
    log.error("unencodable answer", routeKey, (error as Error).message);
    return frameText(failure(answer.key, "Internal Error"));
  }
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so most frames are seen to fit without counting their bytes.
  if ((frame.length - 1) * 3 <= DEFAULT_MAX_FRAME_BYTES) return frame;
  const bytes = Buffer.byteLength(frame) - FRAME_END_BYTES;
  if (bytes <= DEFAULT_MAX_FRAME_BYTES) return frame;
  log.warn("answer too large", routeKey, `${bytes} bytes`, `limit ${DEFAULT_MAX_FRAME_BYTES}`);
  const message = `answer too large: ${bytes} bytes, over the mesh's limit of ${DEFAULT_MAX_FRAME_BYTES}`;
  return frameText(failure(answer.key, advice ? `${message}; ${advice}` : message));
}

/** The key to answer with: numbers and short strings only — anything else could not be echoed safely. */
export function keyOf(packet: Packet): unknown {
  const key = (isRecord(packet.params) ? packet.params.key : undefined) ?? packet.key;
  if (typeof key === "number" || (typeof key === "string" && key.length <= 64)) return key;
  return undefined;
}

function failure(key: unknown, errormessage: string): AnswerPacket {
  return { key, errorcode: 1, errormessage };
}

/** A refusal with `retryAfter`: nothing was done, and the caller may try again (here or elsewhere). */
export function busy(key: unknown, errormessage: string): AnswerPacket {
  return { key, errorcode: 1, errormessage, retryAfter: RETRY_AFTER_SECONDS };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
