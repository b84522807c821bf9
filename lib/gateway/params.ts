/**
 * The params of an HTTP request (SPEC §4): the query string for GET and DELETE; for POST and PUT the body,
 * as JSON (any `application/json` type, `; charset=utf-8` included) or a form.
 */
import type { Context } from "hono";

export class BadRequest extends Error {
  constructor(readonly status: 400 | 415, message: string) {
    super(message);
  }
}

export async function readParams(c: Context): Promise<Record<string, unknown>> {
  const method = c.req.method;
  if (method !== "POST" && method !== "PUT") return c.req.query();
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded" || type === "multipart/form-data") {
    const form = await c.req.parseBody();
    return Object.fromEntries(Object.entries(form).filter(([, value]) => typeof value === "string"));
  }
  const body = await c.req.text();
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
  return value as Record<string, unknown>;
}
