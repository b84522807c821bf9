/**
 * A typed client for programs that call the gateway over HTTP, in the spirit of Hono's `hc`: built on `fetch`
 * alone, so it runs on Node, Bun, Deno and in browsers. Its types come from the services' contracts:
 *
 *   const api = gatewayClient<typeof goods | typeof members>("http://127.0.0.1:8000");
 *   const answer = await api.call("GET/goods", { limit: 10 });
 *   if (answer.errorcode === 0) answer.results; // typed from the contract's answer schema
 *
 * It checks nothing at run time that the gateway and the service check already; failures of the gateway
 * (404, 503, 504…) and of the network come back as a `Failure`, never as a throw, like the services' own.
 */
import type { Answer, AnswerOut, Contract, ParamsIn, RoutesOf } from "../contract/contract.ts";

export interface HttpCallOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** An answer as the client got it, with the HTTP status (0 when the gateway could not be reached). */
export type HttpAnswer<T> = Answer<T> & { status: number };

export interface GatewayClient<C extends Contract> {
  call<K extends RoutesOf<C>>(
    route: K,
    params: ParamsIn<C, K>,
    options?: HttpCallOptions,
  ): Promise<HttpAnswer<AnswerOut<C, K>>>;
}

export interface GatewayClientOptions {
  /** Headers sent with every call (a token, say). */
  headers?: Record<string, string>;
  /** Another fetch (a test's, or one with a proxy agent). */
  fetch?: typeof fetch;
}

export function gatewayClient<C extends Contract>(
  baseUrl: string | URL,
  options: GatewayClientOptions = {},
): GatewayClient<C> {
  const base = new URL(baseUrl);
  const fetchImpl = options.fetch ?? fetch;
  return {
    async call(route, params, callOptions = {}) {
      const slash = route.indexOf("/");
      const method = route.slice(0, slash);
      const url = new URL(route.slice(slash), base);
      const headers: Record<string, string> = { ...options.headers, ...callOptions.headers };
      let body: string | undefined;
      if (method === "GET" || method === "DELETE") {
        for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
          if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
        }
      } else {
        body = JSON.stringify(params);
        headers["content-type"] = "application/json";
      }
      let response: Response;
      try {
        response = await fetchImpl(url, { method, headers, body, signal: callOptions.signal });
      } catch (error) {
        return failure(0, `could not reach the gateway at ${base.origin}: ${(error as Error).message}`);
      }
      const text = await response.text();
      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        return failure(response.status, `the gateway answered HTTP ${response.status} without a JSON body`);
      }
      if (typeof answer !== "object" || answer === null || Array.isArray(answer)) {
        return failure(response.status, `the gateway answered HTTP ${response.status} with JSON that is not an object`);
      }
      const retryAfter = Number(response.headers.get("retry-after") ?? NaN);
      return {
        ...(answer as object),
        ...(Number.isFinite(retryAfter) ? { retryAfter } : {}),
        status: response.status,
      } as HttpAnswer<never>;
    },
  };
}

function failure(status: number, errormessage: string): HttpAnswer<never> {
  return { errorcode: 1, errormessage, status };
}
