/**
 * A token the gateway asks for (the live page's, the metrics'): compared in constant time, as SHA-256 digests, so
 * neither its length nor a common prefix shows in the time taken; input longer than any token is refused unread.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const MAX_TOKEN_LENGTH = 512;

export class SecretToken {
  readonly #digest: Buffer;

  constructor(readonly value: string) {
    this.#digest = digest(value);
  }

  matches(given: string): boolean {
    return given.length <= MAX_TOKEN_LENGTH && timingSafeEqual(digest(given), this.#digest);
  }

  /** Whether an `Authorization: Bearer …` header carries it. */
  bearerIn(header: string | undefined): boolean {
    const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
    return match !== null && this.matches(match[1]);
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
