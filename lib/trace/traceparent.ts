/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a request brings or is given, passed
 * on with every packet (a field book peers ignore) and every call, and sent back in the gateway's answer. Written
 * here, not taken from @opentelemetry/core: parsing one header is twenty lines, and core would load on every
 * node just for them, SDK or not.
 */

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** The span that sent it on: 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** Bit 0: sampled (the caller records this trace). */
  readonly flags: number;
}

/** The flags of a trace this node starts: sampled, so that an SDK (if one is registered) records it. */
const SAMPLED = 1;

/** `version-traceid-parentid-flags`; a later version may add fields after a dash, which are ignored (§4.3). */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-|$)/;
const ALL_ZERO = /^0+$/;

/** The longest header read: the spec's future versions may be longer than 55, never without bound. */
const MAX_TRACEPARENT_LENGTH = 512;

/** The trace a `traceparent` names, or undefined when it is absent or malformed (then a new trace starts). */
export function parseTraceparent(header: unknown): TraceContext | undefined {
  if (typeof header !== "string" || header.length > MAX_TRACEPARENT_LENGTH) return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, more] = match;
  // Version ff is forbidden; version 00 has exactly four fields.
  if (version === "ff" || (version === "00" && more === "-")) return undefined;
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  return { traceId, spanId, flags: parseInt(flags, 16) };
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.flags.toString(16).padStart(2, "0")}`;
}

/** A new trace, for a request that came without one (or with one that was malformed). */
export function newTrace(): TraceContext {
  return { traceId: randomHex(16), spanId: randomHex(8), flags: SAMPLED };
}

/** A new span id in a trace: the id of this node's part, which the next hop names as its parent. */
export function newSpanId(): string {
  return randomHex(8);
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** `bytes` random bytes as hex, never all zero (the spec forbids all-zero ids). */
function randomHex(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  let text = "";
  for (const byte of random) text += HEX[byte];
  return ALL_ZERO.test(text) ? randomHex(bytes) : text;
}
