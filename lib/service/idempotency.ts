/**
 * The kit's side of idempotency keys (docs/protocol.md §9): a request that is not a GET and carries
 * `idempotencyKey` (the gateway's Idempotency-Key header) is done at most once per route and key within the
 * window. Before its handler runs, the key is looked up: used with other params → refused; answered → that
 * answer again. Otherwise the handler runs in an IdempotentRequest scope, where the database memoises each write
 * atomically with its effect (lib/store/idempotency.ts), and its answer is kept for the next retry.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../log.ts";
import { StoreError } from "../store/contract.ts";
import {
  IdempotencyKeyReusedError,
  type IdempotencyLedger,
  type IdempotentRequest,
  idempotentRequest,
} from "../store/idempotency.ts";

/** How long a key is remembered by default: 24 hours, as the IETF draft's examples and Stripe do. */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The draft's key is a structured-field string: printable ASCII; Pilcrow takes 1 to 255 of them. */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

export function isIdempotencyKey(value: unknown): value is string {
  return typeof value === "string" && IDEMPOTENCY_KEY.test(value);
}

/** What an answer refusing a reused key carries besides errorcode 1, for the gateway's 422 (`idempotency` field). */
export const KEY_REUSED = "key-reused";

export interface IdempotencyOptions {
  ledger: IdempotencyLedger;
  /** How long a key is remembered (ms). */
  windowMs: number;
}

/** Expired keys are deleted at most this often (and never on an idle service): a purge is one DELETE. */
const PURGE_EVERY_MS = 10 * 60 * 1000;

/** A key refused because it was used with other params, whether the kit or the database found it. */
export function isKeyReused(error: unknown): boolean {
  return error instanceof IdempotencyKeyReusedError
    || (error instanceof StoreError && error.cause instanceof IdempotencyKeyReusedError);
}

/**
 * sha-256 of the params in canonical form (keys sorted at every level), without the request's `key`, which
 * differs between a request and its retry.
 */
function fingerprintOf(params: unknown): string {
  const { key: _key, ...rest } = (typeof params === "object" && params !== null && !Array.isArray(params)
    ? params
    : {}) as Record<string, unknown>;
  return createHash("sha256").update(JSON.stringify(canonical(rest))).digest("hex");
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== "object" || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const name of Object.keys(value).sort()) sorted[name] = canonical((value as Record<string, unknown>)[name]);
  return sorted;
}

/** Answers requests with a key once per route and key: `once(...)` wraps the handler's run. */
export function idempotencyRunner(options: IdempotencyOptions, log: Logger) {
  let lastPurge = Date.now();
  return async function once(
    route: string,
    key: string,
    params: unknown,
    run: () => Promise<Record<string, unknown>>,
  ): Promise<Record<string, unknown>> {
    const fingerprint = fingerprintOf(params);
    const found = await options.ledger.find(route, key, options.windowMs);
    if (found && found.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
    if (found?.answer) return found.answer;
    const scope: IdempotentRequest = { route, key, fingerprint, windowMs: options.windowMs, writes: 0 };
    const answer = await idempotentRequest.run(scope, run);
    // Only a success is kept: a failure may pass (the database back), and the retry runs again, its writes memoised.
    if (answer.errorcode === 0 && scope.writes > 0) {
      await options.ledger.saveAnswer(route, key, answer).catch((error) =>
        log.warn("idempotency answer not kept", route, (error as Error).message)
      );
    }
    if (Date.now() - lastPurge > Math.min(PURGE_EVERY_MS, options.windowMs)) {
      lastPurge = Date.now();
      void options.ledger.purge(options.windowMs).catch((error) =>
        log.warn("idempotency purge failed", (error as Error).message)
      );
    }
    return answer;
  };
}
