/** Why a request got no answer; the gateway maps each to its own HTTP status. */
export class RequestTimeoutError extends Error {
  override name = "RequestTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

export class ConnectionLostError extends Error {
  override name = "ConnectionLostError";
  constructor(readonly endpoint: string) {
    super(`connection to ${endpoint} lost before the answer came`);
  }
}

export class NotConnectedError extends Error {
  override name = "NotConnectedError";
  constructor(readonly endpoint: string) {
    super(`not connected to ${endpoint}`);
  }
}

/** The request could not be encoded (too deeply nested, say) or the connection had just closed. */
export class UnsendableError extends Error {
  override name = "UnsendableError";
  constructor(readonly endpoint: string) {
    super(`the request could not be sent to ${endpoint}`);
  }
}

/**
 * The request is larger than the way to the service carries (a NATS server's max_payload): it was not sent, and
 * would be refused by every instance alike.
 */
export class RequestTooLargeError extends Error {
  override name = "RequestTooLargeError";
  constructor(readonly endpoint: string, readonly bytes: number, readonly limit: number) {
    super(`the request for ${endpoint} is ${bytes} bytes, more than the ${limit} the mesh carries`);
  }
}

/** The answer was larger than this side accepts: it was skipped, and only its request fails. */
export class AnswerTooLargeError extends Error {
  override name = "AnswerTooLargeError";
  constructor(readonly endpoint: string, readonly bytes: number, readonly limit: number) {
    super(`the answer from ${endpoint} was over ${limit} bytes (${bytes} or more)`);
  }
}
