/**
 * The mesh handshake, when a secret is set: before anything else on a connection, both sides prove they
 * know the secret, and the secret never crosses the wire. The answering side sends a fresh nonce; the
 * connecting side answers with its own nonce and HMAC(secret, "client", identity, both nonces); the
 * answering side checks it and proves itself with HMAC(secret, "server", identity, both nonces). Fresh
 * nonces on both sides make a recorded exchange worthless on any other connection.
 *
 * `identity` is who is being dialled: role, name and port. The connecting side puts in its proof the
 * identity it meant to reach; the answering side computes the proof with its own, so a handshake passed
 * through by a relay to a peer other than the one dialled (meant for the distributor and handed to goods, or
 * meant for members at the relay's port and handed to members at its own) fails on both sides: without the
 * secret a relay cannot turn one peer's proof into another's.
 */
import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Packet } from "../wire/packet.ts";

export const CHALLENGE_URI = "/_pilcrow/challenge";
export const AUTH_URI = "/_pilcrow/auth";
export const WELCOME_URI = "/_pilcrow/welcome";
/** Version 1 bound the proof to the nonces only, which let a relay pass it on (issue 11). */
export const HANDSHAKE_VERSION = "pilcrow/2";
/** A peer that has not completed the handshake by then is disconnected. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

export type MeshRole = "distributor" | "service";

/** Who answers on a mesh port, as the peers that dial it know it. */
export interface MeshIdentity {
  role: MeshRole;
  /** The service's name (as it registers); `distributor` for the distributor. */
  name: string;
  /** The port peers dial: the listening port, or the one a port mapping publishes. */
  port: number;
}

/** How an identity reads in a log line: `service members@9020`. */
export function describeIdentity(identity: MeshIdentity): string {
  return `${identity.role} ${identity.name}@${identity.port}`;
}

function freshNonce(): string {
  return randomBytes(18).toString("base64");
}

/** The proof one side gives; a JSON array keeps the fields apart whatever a name contains. */
export function handshakeProof(
  secret: string,
  side: "client" | "server",
  identity: MeshIdentity,
  serverNonce: string,
  clientNonce: string,
): string {
  const signed = JSON.stringify([
    HANDSHAKE_VERSION,
    side,
    identity.role,
    identity.name,
    identity.port,
    serverNonce,
    clientNonce,
  ]);
  return createHmac("sha256", secret).update(signed).digest("base64");
}

function sameProof(given: unknown, expected: string): boolean {
  if (typeof given !== "string" || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

function field(packet: Packet, name: string): unknown {
  return (packet.params as Record<string, unknown> | undefined)?.[name];
}

function shortText(value: unknown): string | undefined {
  return typeof value === "string" && value.length <= 128 ? value : undefined;
}

/** The identity a peer says it dialled, when it is well formed (it is only ever logged, never trusted). */
function statedIdentity(value: unknown): MeshIdentity | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const { role, name, port } = value as Record<string, unknown>;
  if (role !== "distributor" && role !== "service") return undefined;
  const shortName = shortText(name);
  if (shortName === undefined || !Number.isInteger(port)) return undefined;
  return { role, name: shortName, port: port as number };
}

function sameIdentity(a: MeshIdentity, b: MeshIdentity): boolean {
  return a.role === b.role && a.name === b.name && a.port === b.port;
}

export type HandshakeOutcome = { welcome: Packet } | { refused: string };

/** The answering side of one connection. */
export class ServerHandshake {
  readonly #nonce = freshNonce();
  constructor(private readonly secret: string, private readonly identity: MeshIdentity) {}

  challenge(): Packet {
    return { uri: CHALLENGE_URI, key: 0, params: { nonce: this.#nonce, version: HANDSHAKE_VERSION } };
  }

  /** The welcome when `packet` proves the secret for this identity; otherwise why not, for the log. */
  check(packet: Packet): HandshakeOutcome {
    const clientNonce = packet.uri === AUTH_URI ? shortText(field(packet, "nonce")) : undefined;
    if (!clientNonce) return { refused: "not an answer to the challenge" };
    const expected = handshakeProof(this.secret, "client", this.identity, this.#nonce, clientNonce);
    if (!sameProof(field(packet, "proof"), expected)) return { refused: this.#whyWrong(packet) };
    const proof = handshakeProof(this.secret, "server", this.identity, this.#nonce, clientNonce);
    return { welcome: { uri: WELCOME_URI, key: 0, params: { proof } } };
  }

  /** A peer that meant to reach someone else was relayed here, or is misconfigured: the log says which. */
  #whyWrong(packet: Packet): string {
    const dialled = statedIdentity(field(packet, "dialled"));
    if (!dialled) return `no valid proof (not ${HANDSHAKE_VERSION}?)`;
    if (!sameIdentity(dialled, this.identity)) {
      return `meant for ${describeIdentity(dialled)}, this is ${describeIdentity(this.identity)}`;
    }
    return "wrong proof (another secret?)";
  }
}

/** The connecting side of one connection, dialling `peer`. */
export class ClientHandshake {
  readonly #nonce = freshNonce();
  #serverNonce: string | undefined;
  constructor(private readonly secret: string, private readonly peer: MeshIdentity) {}

  /** The answer to the server's challenge; undefined when `packet` is not one. */
  answer(packet: Packet): Packet | undefined {
    const serverNonce = packet.uri === CHALLENGE_URI ? shortText(field(packet, "nonce")) : undefined;
    if (!serverNonce) return undefined;
    this.#serverNonce = serverNonce;
    const proof = handshakeProof(this.secret, "client", this.peer, serverNonce, this.#nonce);
    return { uri: AUTH_URI, key: 0, params: { nonce: this.#nonce, proof, dialled: this.peer } };
  }

  /** Whether `packet` is the proof, for this connection, of the peer that was dialled. */
  welcomed(packet: Packet): boolean {
    if (packet.uri !== WELCOME_URI || this.#serverNonce === undefined) return false;
    const expected = handshakeProof(this.secret, "server", this.peer, this.#serverNonce, this.#nonce);
    return sameProof(field(packet, "proof"), expected);
  }
}
