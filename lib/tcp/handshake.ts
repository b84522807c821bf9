/**
 * The mesh handshake, when a secret is set: before anything else on a connection, both sides prove they
 * know the secret, and the secret never crosses the wire. The answering side sends a fresh nonce; the
 * connecting side answers with its own nonce and HMAC(secret, "client", both nonces); the answering side
 * checks it and proves itself with HMAC(secret, "server", both nonces). Fresh nonces on both sides make a
 * recorded exchange worthless on any other connection.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Packet } from "../wire/packet.ts";

export const CHALLENGE_URI = "/_pilcrow/challenge";
export const AUTH_URI = "/_pilcrow/auth";
export const WELCOME_URI = "/_pilcrow/welcome";
/** A peer that has not completed the handshake by then is disconnected. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

function freshNonce(): string {
  return randomBytes(18).toString("base64");
}

function proof(secret: string, role: "client" | "server", serverNonce: string, clientNonce: string): string {
  return createHmac("sha256", secret).update(`pilcrow/1 ${role} ${serverNonce} ${clientNonce}`).digest("base64");
}

function sameProof(given: unknown, expected: string): boolean {
  if (typeof given !== "string" || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

function field(packet: Packet, name: string): string | undefined {
  const value = (packet.params as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" && value.length <= 128 ? value : undefined;
}

/** The answering side of one connection. */
export class ServerHandshake {
  readonly #nonce = freshNonce();
  constructor(private readonly secret: string) {}

  challenge(): Packet {
    return { uri: CHALLENGE_URI, key: 0, params: { nonce: this.#nonce } };
  }

  /** The welcome to send when `packet` proves the secret; undefined when it does not. */
  welcome(packet: Packet): Packet | undefined {
    const clientNonce = packet.uri === AUTH_URI ? field(packet, "nonce") : undefined;
    if (!clientNonce || !sameProof(field(packet, "proof"), proof(this.secret, "client", this.#nonce, clientNonce))) {
      return undefined;
    }
    return { uri: WELCOME_URI, key: 0, params: { proof: proof(this.secret, "server", this.#nonce, clientNonce) } };
  }
}

/** The connecting side of one connection. */
export class ClientHandshake {
  readonly #nonce = freshNonce();
  #serverNonce: string | undefined;
  constructor(private readonly secret: string) {}

  /** The answer to the server's challenge; undefined when `packet` is not one. */
  answer(packet: Packet): Packet | undefined {
    const serverNonce = packet.uri === CHALLENGE_URI ? field(packet, "nonce") : undefined;
    if (!serverNonce) return undefined;
    this.#serverNonce = serverNonce;
    return {
      uri: AUTH_URI,
      key: 0,
      params: { nonce: this.#nonce, proof: proof(this.secret, "client", serverNonce, this.#nonce) },
    };
  }

  /** Whether `packet` is the server's proof for this connection. */
  welcomed(packet: Packet): boolean {
    if (packet.uri !== WELCOME_URI || this.#serverNonce === undefined) return false;
    return sameProof(field(packet, "proof"), proof(this.secret, "server", this.#serverNonce, this.#nonce));
  }
}
