/** A failure the client is meant to read: it becomes `errorcode 1` with this message. */
export class ServiceError extends Error {
  override name = "ServiceError";
}

export const INVALID_PARAMETERS = "Invalid Parameters";
