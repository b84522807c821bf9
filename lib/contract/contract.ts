/**
 * A service's contract, declared once: its name and its routes, each with a valibot schema for its params and
 * one for its answer. Handlers, callers in other services and the typed HTTP client all take their types from
 * this one declaration, so a misspelled route, a wrong param or an undeclared answer field does not compile.
 */
import type * as v from "valibot";
import type { Method } from "../wire/packet.ts";

/** How the gateway and the mesh name a route: the HTTP method and the path, `GET/goods`. */
export type RouteKey = `${Method}/${string}`;

export interface RouteSpec<
  P extends v.GenericSchema = v.GenericSchema,
  A extends v.GenericSchema = v.GenericSchema,
> {
  readonly params: P;
  readonly answer: A;
}

export type RouteSpecs = { readonly [route: RouteKey]: RouteSpec };

export interface Contract<N extends string = string, R extends RouteSpecs = RouteSpecs> {
  readonly name: N;
  readonly routes: R;
}

/** Declares a service: `defineService("goods", { "GET/goods": { params: v.object({}), answer: … } })`. */
export function defineService<const N extends string, const R extends RouteSpecs>(name: N, routes: R): Contract<N, R> {
  return { name, routes };
}

/** The route keys of one contract or of a union of contracts. */
export type RoutesOf<C extends Contract> = C extends Contract<string, infer R> ? keyof R & RouteKey : never;

/** The spec of `route` in whichever contract of the union declares it. */
export type SpecOf<C extends Contract, K extends RouteKey> = C extends Contract<string, infer R>
  ? K extends keyof R ? R[K] : never
  : never;

/** What a caller sends: the schema's input (a query string's "1" is accepted where the schema converts it). */
export type ParamsIn<C extends Contract, K extends RouteKey> = v.InferInput<SpecOf<C, K>["params"]>;
/** What a handler receives: the params after the schema checked and converted them. */
export type ParamsOut<C extends Contract, K extends RouteKey> = v.InferOutput<SpecOf<C, K>["params"]>;
/** What a handler returns besides `key`, `errorcode` and `errormessage`. */
export type AnswerIn<C extends Contract, K extends RouteKey> = v.InferInput<SpecOf<C, K>["answer"]>;
/** What a caller reads from a successful answer. */
export type AnswerOut<C extends Contract, K extends RouteKey> = v.InferOutput<SpecOf<C, K>["answer"]>;

/** Every answer of the book's protocol: success with the route's fields, or failure with a message. */
export type Success<T> = { key?: unknown; errorcode: 0; errormessage: string } & T;
export interface Failure {
  key?: unknown;
  errorcode: 1;
  errormessage: string;
  /** Seconds to wait before trying again, when the service (or the gateway) said it is busy. */
  retryAfter?: number;
}
export type Answer<T> = Success<T> | Failure;
