/**
 * `call` for handlers: a request to a route of a service this one uses, through the mesh core — the same
 * secret, heartbeats, failover and timeouts as the gateway's requests. A call inherits the deadline of the
 * request being handled, less a share kept for the answer to go back, so a caller answers within its own
 * deadline even when the service it calls never does; a call whose time is gone fails at once, unsent. Every
 * outcome is an answer of the book's shape, never a throw: the service's own (checked against its contract),
 * or a Failure saying why there is none.
 */
import * as v from "valibot";
import type { Answer, Contract, RouteKey } from "../contract/contract.ts";
import type { Logger } from "../log.ts";
import { type MeshCore, MeshError } from "../mesh/core.ts";
import { closeSpan, openSpan, SpanKind } from "../trace/spans.ts";
import type { TraceContext } from "../trace/traceparent.ts";
import type { NodeInfo } from "../wire/packet.ts";
import type { CallOptions } from "./handlers.ts";

/** How long a call may take when the request being handled came without a deadline (as the gateway's timeout). */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/**
 * Of what is left of a request's time, the share a call leaves for what comes after it (the caller's own work
 * and its answer's way back), at most MAX_RESERVE_MS: a call that took all of it would make its caller late.
 */
const RESERVE_SHARE = 0.05;
const MAX_RESERVE_MS = 250;

interface UsedRoute {
  service: string;
  answer: v.GenericSchema;
}

export class MeshCaller {
  #routes = new Map<string, UsedRoute>();
  #mesh: MeshCore | undefined;
  #log: Logger;

  constructor(uses: readonly Contract[], log: Logger) {
    this.#log = log;
    for (const contract of uses) {
      for (const [route, spec] of Object.entries(contract.routes)) {
        this.#routes.set(route, { service: contract.name, answer: spec.answer });
      }
    }
  }

  /**
   * The nodes worth a connection: those serving a route this service calls. Nodes listed with no routes are
   * kept in the list too: a leaving instance registers so, and must then be dropped at once, not missed.
   */
  wants(node: NodeInfo): boolean {
    return node.urls.length === 0 || node.urls.some((url) => this.#routes.has(url));
  }

  /** The mesh joined, once the service listens: calls go through it from then on. */
  attach(mesh: MeshCore): void {
    this.#mesh = mesh;
  }

  async call(
    route: RouteKey,
    params: Record<string, unknown>,
    requestDeadline: number,
    options: CallOptions = {},
    trace?: TraceContext,
    log: Logger = this.#log,
  ): Promise<Answer<unknown>> {
    const span = openSpan(`call ${route}`, SpanKind.INTERNAL, trace);
    try {
      const answer = await this.#call(route, params, requestDeadline, options, span.context, log);
      closeSpan(span, answer.errorcode === 0 ? undefined : answer.errormessage);
      return answer;
    } catch (error) {
      closeSpan(span, (error as Error)?.message ?? String(error));
      throw error;
    }
  }

  async #call(
    route: RouteKey,
    params: Record<string, unknown>,
    requestDeadline: number,
    options: CallOptions,
    trace: TraceContext,
    log: Logger,
  ): Promise<Answer<unknown>> {
    const used = this.#routes.get(route);
    if (!used) return failure(`${route} is in none of the contracts this service declared it uses`);
    const deadline = callDeadline(requestDeadline, options.timeoutMs);
    if (!this.#mesh) return failure(`${used.service} could not be reached: this service has not joined the mesh yet`);
    let packet: Record<string, unknown>;
    try {
      ({ packet } = await this.#mesh.request(route, params, {
        deadline,
        resend: options.resend,
        trace,
        log,
        ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      }));
    } catch (error) {
      if (!(error instanceof MeshError)) throw error;
      log.debug("call failed", route, error.failure, error.message);
      if (error.failure === "busy") {
        return {
          errorcode: 1,
          errormessage: `${used.service} is busy: ${error.message}`,
          retryAfter: error.retryAfter,
        };
      }
      return failure(`${used.service} could not be reached: ${error.message}`);
    }
    const { key, errorcode, errormessage } = packet;
    if (errorcode === 1 && typeof errormessage === "string") return { key, errorcode, errormessage };
    if (errorcode === 0) {
      const checked = v.safeParse(used.answer, packet);
      if (checked.success) {
        return { ...(checked.output as object), key, errorcode, errormessage: String(errormessage ?? "success") };
      }
      log.warn("answer not as the contract says", route, v.summarize(checked.issues).slice(0, 500));
    }
    return failure(`${used.service} answered ${route} not as its contract says`);
  }
}

/** The earliest of the request's deadline (less the reserve) and the call's own timeout. */
function callDeadline(requestDeadline: number, timeoutMs: number | undefined): number {
  const now = Date.now();
  const own = now + (timeoutMs ?? (requestDeadline === Infinity ? DEFAULT_CALL_TIMEOUT_MS : Infinity));
  const left = requestDeadline - now;
  const inherited = requestDeadline - Math.min(Math.max(left, 0) * RESERVE_SHARE, MAX_RESERVE_MS);
  // Whole milliseconds: the deadline is sent as the ms left, and read in messages.
  return Math.floor(Math.min(own, inherited));
}

function failure(errormessage: string): Answer<never> {
  return { errorcode: 1, errormessage };
}
