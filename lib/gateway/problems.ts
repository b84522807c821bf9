/**
 * The gateway's own failures as HTTP (docs/protocol.md §4): a status, and a JSON body in the book's shape,
 * `{errorcode: 1, errormessage}`. Every 503 says when to try again (Retry-After); a busy refusal is passed on
 * as the service sent it.
 */
import type { MeshAnswer, MeshError, MeshFailure } from "../mesh/core.ts";

export interface Problem {
  status: number;
  json: string;
  /** Seconds, for the Retry-After header. */
  retryAfter?: number;
}

const STATUS_OF: Record<MeshFailure, number> = {
  "unknown-route": 404,
  "no-instance": 503,
  busy: 503,
  timeout: 504,
  lost: 502,
  "too-large": 502,
  "request-too-large": 413,
};

/** For a 503 whose cause did not say: connections are remade within about a second. */
const DEFAULT_RETRY_AFTER_SECONDS = 1;

export function problemJson(errormessage: string): string {
  return JSON.stringify({ errorcode: 1, errormessage });
}

export function meshProblem(error: MeshError): Problem {
  const status = STATUS_OF[error.failure];
  const json = error.answer?.text ?? problemJson(error.message);
  return status === 503
    ? { status, json, retryAfter: error.retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS }
    : { status, json };
}

/**
 * The status of a service's answer: 200, as the book's gateway answers, but 422 for a request refused because its
 * Idempotency-Key was first used with another body (the service says so in `idempotency`, docs/protocol.md §9).
 */
export function answerStatus(answer: MeshAnswer): number {
  return answer.errorcode === 1 && answer.packet.idempotency === "key-reused" ? 422 : 200;
}
