/**
 * Who may see the live page: with a token set (the gateway listens off loopback), every dashboard path asks for it,
 * as `?token=` or as the cookie the page sets once it was given; without one, everybody may. Tokens are compared in
 * constant time (lib/gateway/secret-token.ts).
 */
import { SecretToken } from "../gateway/secret-token.ts";

/** The cookie that carries the token once the page was opened with `?token=`. */
export const TOKEN_COOKIE = "pilcrow_dashboard";

export type Access =
  /** No token is set, or the right one came as the cookie. */
  | "open"
  /** The right one came in the URL: set the cookie (and, for the page, drop it from the URL). */
  | "token-in-url"
  | "refused";

export class DashboardAccess {
  readonly #token: SecretToken | undefined;

  constructor(token: string | undefined) {
    this.#token = token === undefined ? undefined : new SecretToken(token);
  }

  check(request: Request): Access {
    if (this.#token === undefined) return "open";
    const given = new URL(request.url).searchParams.getAll("token");
    if (given.length > 0) return given.length === 1 && this.#matches(given[0]) ? "token-in-url" : "refused";
    const cookie = readCookie(request.headers.get("cookie"), TOKEN_COOKIE);
    return cookie !== undefined && this.#matches(cookie) ? "open" : "refused";
  }

  /** The Set-Cookie header value that lets the browser in from now on (this browser session only). */
  cookie(path: string): string {
    return `${TOKEN_COOKIE}=${encodeURIComponent(this.#token?.value ?? "")}; Path=${path}; HttpOnly; SameSite=Strict`;
  }

  #matches(given: string): boolean {
    return this.#token!.matches(given);
  }
}

/** The named cookie's value, percent-decoded; undefined when absent or not decodable (never throws). */
export function readCookie(header: string | null, name: string): string | undefined {
  if (header === null || header.length > 8192) return undefined;
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue;
    try {
      return decodeURIComponent(pair.slice(equals + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}
