/**
 * The params of an HTTP request (docs/protocol.md §4): the query string for GET and DELETE; for POST and PUT the body,
 * as JSON (any `application/json` type, `; charset=utf-8` included) or a form.
 */
import type { Context } from "hono";

export class BadRequest extends Error {
  constructor(readonly status: 400 | 415, message: string) {
    super(message);
  }
}

/** Deeper JSON than this is refused: no service needs it, and it could not be re-encoded for the mesh. */
export const MAX_JSON_DEPTH = 32;

export async function readParams(c: Context): Promise<Record<string, unknown>> {
  const method = c.req.method;
  if (method !== "POST" && method !== "PUT") return c.req.query();
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded" || type === "multipart/form-data") {
    const form = await readBody(() => c.req.parseBody(), "malformed form body");
    return Object.fromEntries(Object.entries(form).filter(([, value]) => typeof value === "string"));
  }
  const body = await readBody(() => c.req.text(), "the request body could not be read");
  if (body.trim() === "") return {};
  if (type !== "" && type !== "application/json" && !type.endsWith("+json")) {
    throw new BadRequest(415, `unsupported content type ${type.slice(0, 100)}: send application/json or a form`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new BadRequest(400, "malformed JSON body");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequest(400, "the JSON body must be an object");
  }
  if (depthExceeds(value, MAX_JSON_DEPTH)) {
    throw new BadRequest(400, `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value as Record<string, unknown>;
}

/** A body that cannot be read or parsed (a client that hung up, a broken multipart) is the client's error. */
async function readBody<T>(read: () => Promise<T>, message: string): Promise<T> {
  try {
    return await read();
  } catch {
    throw new BadRequest(400, message);
  }
}

/** Walks without recursion, so that the check itself cannot overflow the stack. */
function depthExceeds(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The Idempotency-Key header's value may hold 1 to 255 printable ASCII characters (docs/protocol.md §9). */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/**
 * The request's Idempotency-Key (the IETF httpapi draft): a structured-field string, `"…"` with `\"` and `\\`
 * escaped, or the same characters unquoted, as many clients send them. Absent: undefined; anything else that is
 * not 1 to 255 printable ASCII characters is refused.
 */
export function readIdempotencyKey(c: Context): string | undefined {
  const header = c.req.header("idempotency-key");
  if (header === undefined) return undefined;
  const quoted = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(header);
  const key = quoted ? quoted[1].replace(/\\(["\\])/g, "$1") : header;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new BadRequest(400, "malformed Idempotency-Key: send 1 to 255 printable ASCII characters (a quoted string)");
  }
  return key;
}
