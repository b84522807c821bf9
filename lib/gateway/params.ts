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

/** A key may hold 1 to 255 printable ASCII characters (docs/protocol.md §9). */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/** A structured-field string (RFC 8941 §3.3.3): printable ASCII in double quotes, `"` and `\` escaped by `\`. */
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;

/**
 * A key sent without quotes: the characters of a structured-field token (RFC 8941 §3.3.4), any of them first. Taken
 * because many clients send a UUID bare, and a UUID may start with a digit, which a strict token may not. It holds
 * none of the characters that make structure: `"` (a string), `,` (a list, or the header given twice, which
 * arrives joined by ", "), `;` (parameters), a space.
 */
const BARE_KEY = /^[-!#$%&'*+.^_`|~0-9A-Za-z:/]+$/;

/**
 * The request's Idempotency-Key: one structured-field string, as the IETF httpapi draft says, or one bare key as
 * above. Absent: undefined. A list, the header twice, an unclosed quote, a key that is empty, longer than 255
 * characters or not printable ASCII: refused with 400.
 */
export function readIdempotencyKey(c: Context): string | undefined {
  const header = c.req.header("idempotency-key");
  if (header === undefined) return undefined;
  const quoted = SF_STRING.exec(header);
  const key = quoted ? quoted[1].replace(/\\(["\\])/g, "$1") : BARE_KEY.test(header) ? header : undefined;
  if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
    throw new BadRequest(
      400,
      "malformed Idempotency-Key: send one key of 1 to 255 printable ASCII characters, as a quoted string (\"…\", "
        + "with \\\" and \\\\ escaped) or bare (letters, digits and -._~:/!#$%&'*+^`|), not a list nor the header twice",
    );
  }
  return key;
}
