/**
 * What a service author writes against: a handler per route of the service's contract, typed from it, and the
 * context each one gets — the request's deadline, the log, and `call` to the services it declared it uses.
 */
import type {
  Answer,
  AnswerIn,
  AnswerOut,
  Contract,
  ParamsIn,
  ParamsOut,
  RouteKey,
  RoutesOf,
} from "../contract/contract.ts";
import type { Logger } from "../log.ts";

export interface CallOptions {
  /**
   * The longest this call may take. It never outlasts the request being handled: by default it gets what is
   * left of that request's deadline (less a share kept for the answer to go back), or DEFAULT_CALL_TIMEOUT_MS
   * when the request came without one.
   */
  timeoutMs?: number;
  /**
   * Send it again to another instance if the connection drops mid-call (the instance may have done it before
   * it went). Default: only for GET routes, which the book's services keep safe to repeat.
   */
  resend?: boolean;
  /**
   * An idempotency key for the call (docs/protocol.md §9): a Pilcrow service does it once per key and route, and
   * the mesh may then resend it to another Pilcrow instance when the connection drops.
   */
  idempotencyKey?: string;
}

/**
 * Calls a route of a service this one uses, through the mesh (its secret, heartbeats, failover, timeouts).
 * It never throws for a remote failure: the answer is the service's own, typed by its contract, or a Failure
 * saying why there is none ("goods could not be reached: …").
 */
export type Caller<U extends Contract> = <K extends RoutesOf<U>>(
  route: K,
  params: ParamsIn<U, K>,
  options?: CallOptions,
) => Promise<Answer<AnswerOut<U, K>>>;

/** What a handler knows of its request besides the params. */
export interface RequestContext<U extends Contract = never> {
  /**
   * Date.now() past which nobody waits for the answer: the `timeout` the caller sent (the gateway sends the
   * ms it will wait) counted from the packet's arrival, so no two clocks need agree; Infinity without one.
   * Calls made while handling the request pass on what is left of it; work queued behind other work checks
   * it when its turn comes (WorkQueue).
   */
  readonly deadline: number;
  readonly log: Logger;
  readonly call: Caller<U>;
}

/**
 * What a handler returns: the answer's declared fields, besides `key`, `errorcode` and `errormessage` — or
 * nothing, for a route that declares none. A failure is thrown (ServiceError), not returned.
 */
export type HandlerAnswer<C extends Contract, K extends RouteKey> = keyof AnswerIn<C, K> extends never ? void
  : AnswerIn<C, K>;

export type Handler<C extends Contract, K extends RouteKey, U extends Contract> = (
  params: ParamsOut<C, K>,
  context: RequestContext<U>,
) => Promise<HandlerAnswer<C, K>>;

/** A handler with what its clients are told when its answer is too large to send: how to ask for less. */
export interface AdvisedHandler<C extends Contract, K extends RouteKey, U extends Contract> {
  handle: Handler<C, K, U>;
  tooLargeAdvice: string;
}

/** One handler for every route the contract declares: a route left out, or one it does not declare, does not compile. */
export type Handlers<C extends Contract, U extends Contract = never> = {
  readonly [K in RoutesOf<C>]: Handler<C, K, U> | AdvisedHandler<C, K, U>;
};
