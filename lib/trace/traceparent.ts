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
  /** Bit 0: sampled (the caller records this trace); the only flag passed on. */
  readonly flags: number;
  /** The three as the `traceparent` header sends them on, made once. */
  readonly traceparent: string;
}

/** The flags of a trace this node starts: sampled, so that an SDK (if one is registered) records it. */
const SAMPLED = 1;

/** The longest header read: the spec's future versions may be longer than 55, never without bound. */
const MAX_TRACEPARENT_LENGTH = 512;

/** `00-` + 32 + `-` + 16 + `-` + 2: version 00's exact length. */
const VERSION_00_LENGTH = 55;

/**
 * The trace a `traceparent` names, or undefined when it is absent or malformed (then a new trace starts):
 * `version-traceid-parentid-flags`, lowercase hex; a later version may add fields after a dash, which are ignored
 * (§4.3). Read by character codes, not a regular expression: it runs for every request, on every node.
 */
export function parseTraceparent(header: unknown): TraceContext | undefined {
  if (typeof header !== "string" || header.length > MAX_TRACEPARENT_LENGTH) return undefined;
  const text = header.length === VERSION_00_LENGTH ? header : header.trim();
  if (text.length < VERSION_00_LENGTH) return undefined;
  if (text.charCodeAt(2) !== DASH || text.charCodeAt(35) !== DASH || text.charCodeAt(52) !== DASH) return undefined;
  if (!isHex(text, 0, 2) || !isHex(text, 3, 35) || !isHex(text, 36, 52) || !isHex(text, 53, 55)) return undefined;
  const version = text.slice(0, 2);
  // Version ff is forbidden; version 00 has exactly four fields; a later one may go on after a dash.
  if (version === "ff") return undefined;
  if (text.length > VERSION_00_LENGTH && (version === "00" || text.charCodeAt(55) !== DASH)) return undefined;
  const traceId = text.slice(3, 35);
  const spanId = text.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  // Only the sampled bit is passed on: the spec asks that flags this version does not define be set to zero.
  const flags = parseInt(text.slice(53, 55), 16) & SAMPLED;
  const canonical = text.length === VERSION_00_LENGTH && version === "00" && text.charCodeAt(53) === ZERO_CODE
    && text.charCodeAt(54) === (flags ? ONE_CODE : ZERO_CODE);
  return { traceId, spanId, flags, traceparent: canonical ? text : formatTraceparent(traceId, spanId, flags) };
}

const DASH = 0x2d;
const ZERO_CODE = 0x30;
const ONE_CODE = 0x31;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

/** Whether `text` from `start` to `end` is lowercase hex (the spec allows no uppercase). */
function isHex(text: string, start: number, end: number): boolean {
  for (let index = start; index < end; index++) {
    const code = text.charCodeAt(index);
    if (!((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66))) return false;
  }
  return true;
}

/** A trace context from its parts (an SDK's span, a new trace). */
export function traceContext(traceId: string, spanId: string, flags: number): TraceContext {
  return { traceId, spanId, flags, traceparent: formatTraceparent(traceId, spanId, flags) };
}

function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${flags & SAMPLED ? "01" : "00"}`;
}

/** A new trace, for a request that came without one (or with one that was malformed). */
export function newTrace(): TraceContext {
  return traceContext(randomHex(16), randomHex(8), SAMPLED);
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/**
 * Random bytes drawn 4 KiB at a time: one getRandomValues call costs about a microsecond on Node, whatever its size,
 * and every request needs a few ids.
 */
const pool = new Uint8Array(4096);
let used = pool.length;

/** `bytes` random bytes as hex, never all zero (the spec forbids all-zero ids). */
function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  let text = "";
  let zero = true;
  for (let index = used; index < used + bytes; index++) {
    const byte = pool[index];
    if (byte !== 0) zero = false;
    text += HEX[byte];
  }
  used += bytes;
  return zero ? randomHex(bytes) : text;
}
