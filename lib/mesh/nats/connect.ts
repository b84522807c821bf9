/**
 * The one connection a node keeps to NATS. The first connect waits for the servers as a node waits for the
 * distributor: a node started before NATS joins when it comes. A server that answers but refuses the node (its
 * credentials, its certificate) is not waited for: that is a mistake no retry fixes. Once connected, nats.js
 * reconnects for ever, and each change is logged: server addresses only, never a credential (nats.js writes
 * nothing itself unless its `debug` option is set, which is never done here: that prints the CONNECT line).
 */
import {
  type Authenticator,
  AuthorizationError,
  credsAuthenticator,
  errors,
  type NatsConnection,
  nkeys,
  tokenAuthenticator,
  UserAuthenticationExpiredError,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";
import { connect, type ConnectionOptions } from "@nats-io/transport-node";
import { Backoff, RECONNECT_BACKOFF } from "../../backoff.ts";
import type { Logger } from "../../log.ts";
import { credsParts, type NatsAuth, type NatsSettings, type NatsTls } from "./settings.ts";

export type { NatsConnection };

/**
 * Connects a node to NATS, waiting for the servers to come up, then reconnecting for ever. `stop` ends the wait
 * (a node stopped before NATS came): the promise then rejects, and a connection made meanwhile is closed.
 */
export async function connectNats(
  settings: NatsSettings,
  log: Logger,
  name: string,
  stop?: AbortSignal,
): Promise<NatsConnection> {
  if (settings.auth?.kind === "creds") checkSeed(settings.auth.file, settings.auth.creds.reveal());
  const options = connectionOptions(settings, name);
  const where = settings.servers.join(", ");
  const backoff = new Backoff(RECONNECT_BACKOFF);
  const stopped = () => new Error(`${name} stopped before NATS at ${where} was reached`);
  for (let attempt = 1;; attempt++) {
    if (stop?.aborted) throw stopped();
    try {
      const connection = await connect(options);
      if (stop?.aborted) {
        await connection.close();
        throw stopped();
      }
      log.info("NATS connected", connection.getServer());
      void logStatus(connection, log);
      return connection;
    } catch (error) {
      if (stop?.aborted) throw stopped();
      const refusal = refusalOf(error);
      if (refusal !== undefined) throw new Error(`NATS at ${where} refused ${name}: ${refusal}`);
      // One line per round over every server: nats.js tries each once per connect().
      const delayMs = backoff.next();
      log.warn("NATS not reachable yet", where, `attempt ${attempt}`, reasonOf(error), `retrying in ${delayMs} ms`);
      await sleep(delayMs, stop);
    }
  }
}

function connectionOptions(settings: NatsSettings, name: string): ConnectionOptions {
  return {
    servers: settings.servers,
    name,
    // Per attempt, nats.go's default: a handshake takes milliseconds, and a frozen server must not hold a node
    // (nor its move to the next server) for nats.js's default 20 s.
    timeout: 2000,
    // A server that froze or whose link went half-open is left (for another of the cluster) after two pings
    // unanswered, 10 to 15 s, not nats.js's default of two 2-minute intervals.
    pingInterval: 5000,
    maxPingOut: 2,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    reconnectJitterTLS: 250,
    ...(settings.auth && { authenticator: authenticatorOf(settings.auth) }),
    ...(settings.tls && { tls: tlsOptionsOf(settings.tls) }),
  };
}

function authenticatorOf(auth: NatsAuth): Authenticator {
  switch (auth.kind) {
    case "user":
      return usernamePasswordAuthenticator(auth.user, auth.password.reveal());
    case "token":
      return tokenAuthenticator(auth.token.reveal());
    case "creds":
      return credsAuthenticator(new TextEncoder().encode(auth.creds.reveal()));
  }
}

/** The PEM texts read at start-up, not the files: what the node checked is what it uses. */
function tlsOptionsOf(tls: NatsTls) {
  return {
    ...(tls.ca && { ca: tls.ca.pem }),
    ...(tls.cert && { cert: tls.cert.pem }),
    ...(tls.key && { key: tls.key.pem }),
  };
}

/**
 * Why a server that answered refused us, or undefined when it may just not be there yet. TLS failures come from
 * node:tls with a code (a certificate not trusted, a name that does not match, a client certificate refused by
 * the server: an SSL alert); nats.js says itself when TLS is missing on one side.
 */
function refusalOf(error: unknown): string | undefined {
  if (error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError) {
    return `${error.message} (check the NATS user and password, token or creds file)`;
  }
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  const tlsCode = typeof code === "string"
    && (/^ERR_SSL_|^ERR_TLS_|CERT|SELF_SIGNED|UNABLE_TO_|HOSTNAME|ALTNAME/.test(code));
  if (tlsCode || /\btls\b|certificate|handshake/i.test(error.message)) return `TLS failed: ${error.message}`;
  if (error instanceof errors.InvalidArgumentError) return error.message;
  return undefined;
}

function sleep(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop?.addEventListener("abort", done);
  });
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function logStatus(connection: NatsConnection, log: Logger): Promise<void> {
  for await (const status of connection.status()) {
    switch (status.type) {
      case "disconnect":
        log.warn("NATS disconnected", status.server);
        break;
      case "reconnect":
        log.info("NATS reconnected", status.server);
        break;
      case "ldm":
        log.warn("NATS server is going away (lame duck mode)", status.server);
        break;
      case "error":
        log.warn("NATS error", status.error.message);
        break;
    }
  }
  const error = await connection.closed();
  if (error) log.error("NATS connection closed", error.message);
}

/** A seed whose checksum fails would fail every connect as if the server were away: said at once instead. */
function checkSeed(file: string, creds: string): void {
  const seed = credsParts(creds)?.seed ?? "";
  try {
    if (nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey().startsWith("U")) return;
  } catch { /* not a seed: said below, without the nkeys library's message, which could quote it */ }
  throw new Error(`the NATS creds file ${file} holds no valid user seed`);
}
