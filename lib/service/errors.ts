/** A failure the client is meant to read: it becomes `errorcode 1` with this message. */
export class ServiceError extends Error {
  override name = "ServiceError";
}

export const INVALID_PARAMETERS = "Invalid Parameters";

/** Seconds a refused caller should wait before trying again (the gateway's `Retry-After`). */
export const RETRY_AFTER_SECONDS = 1;

/**
 * The service has more work than it can do in time, so it refuses this request without doing any of it.
 * The answer carries `retryAfter`: the gateway turns it into 503 with `Retry-After` (and, since nothing was
 * done, may try another instance first).
 */
export class ServiceBusyError extends ServiceError {
  override name = "ServiceBusyError";
  constructor(what: string) {
    super(`service busy: ${what}; retry later`);
  }
}

/** The request's deadline passed before its work began: nobody waits for the answer, so none is sent. */
export class DeadlinePassedError extends Error {
  override name = "DeadlinePassedError";
  constructor() {
    super("the request's deadline passed before its work began");
  }
}
