/**
 * A private nats-server that one test owns, on a free port of 127.0.0.1, so it can stop, restart (on the same
 * port), freeze and thaw it: `const nats = await startPrivateNats(); … await nats.destroy()`. Optionally with
 * authentication (user and password, token, or creds: operator mode, its JWTs and nkeys made here) and TLS (a
 * test CA made here; `verifyClients` for mutual TLS). Tests that need a NATS but never disturb it share one:
 * sharedNats(). Without nats-server the suites are skipped with a message, except in CI (CI=true).
 *
 * Signals go through process.kill(pid): Deno's ChildProcess.kill delivers only the first signal sent to a child.
 */
import { nkeys } from "@nats-io/nats-core";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";
import { makeNatsPki, type NatsPki } from "./nats-pki.ts";
import { freePort } from "./processes.ts";

function findNatsServer(): string | undefined {
  const directories = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/sbin", "/usr/local/bin"];
  for (const directory of directories) {
    try {
      const stats = statSync(join(directory, "nats-server"));
      if (stats.isFile() && (stats.mode & 0o111) !== 0) return join(directory, "nats-server");
    } catch { /* not here */ }
  }
  return undefined;
}

const binary = findNatsServer();
const HOW_TO_RUN = "install nats-server (apt-get install nats-server) to run the tests on a private NATS";
if (!binary && process.env.CI === "true") throw new Error(`CI=true but no nats-server was found: ${HOW_TO_RUN}`);

/** The `skip` option for a suite that needs a private NATS. */
export const skipWithoutNats: string | false = binary ? false : `no nats-server: ${HOW_TO_RUN}`;
if (skipWithoutNats) console.warn(`skipping the private NATS tests: ${skipWithoutNats}`);

export type PrivateNatsAuth = { user: string; password: string } | { token: string } | "creds";

export interface PrivateNatsOptions {
  auth?: PrivateNatsAuth;
  /** TLS with a test CA (`nats.pki`); `verifyClients`: a client must show a certificate the CA signed. */
  tls?: { verifyClients?: boolean };
  /** The largest message the server takes (its max_payload; NATS's default is 1 MB). */
  maxPayload?: number;
}

export interface PrivateNats {
  readonly port: number;
  /** `nats://127.0.0.1:PORT`, without credentials. */
  readonly url: string;
  /** With `tls`: the CA, the server's and a client's certificates, a stranger CA. */
  readonly pki?: NatsPki;
  /** With auth "creds": a creds file the server accepts, and one of a user it has never heard of. */
  readonly credsFile?: string;
  readonly strangerCredsFile?: string;
  /** The server's output, for failure messages. */
  readonly output: string[];
  /** Stops the server (SIGTERM, SIGKILL after a second) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers; stops it first if it runs. */
  restart(): Promise<void>;
  /** SIGSTOP: a hung server; connections are accepted by the kernel and never answered. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Kills the server and removes its files; safe to call more than once. */
  destroy(): Promise<void>;
}

export async function startPrivateNats(options: PrivateNatsOptions = {}): Promise<PrivateNats> {
  if (!binary) throw new Error(skipWithoutNats as string);
  const dir = mkdtempSync(join(tmpdir(), "pilcrow-nats-"));
  const port = await freePort();
  const pki = options.tls ? makeNatsPki() : undefined;
  const creds = options.auth === "creds" ? operatorMode(dir) : undefined;
  const config = [
    `listen: "127.0.0.1:${port}"`,
    ...authConfig(options.auth, creds?.config),
    ...(pki ? tlsConfig(pki, options.tls?.verifyClients ?? false) : []),
    ...(options.maxPayload === undefined ? [] : [`max_payload: ${options.maxPayload}`]),
  ].join("\n");
  const configFile = join(dir, "nats.conf");
  writeFileSync(configFile, `${config}\n`);
  const output: string[] = [];
  let child: ChildProcess | undefined;
  let exited = Promise.resolve();
  const killOnExit = () => signal(child, "SIGKILL");
  process.on("exit", killOnExit);

  const start = async () => {
    const current = spawn(binary, ["-c", configFile], { stdio: ["ignore", "pipe", "pipe"] });
    child = current;
    const onText = (text: string) => output.push(...text.split("\n").filter(Boolean));
    current.stdout!.setEncoding("utf8").on("data", onText);
    current.stderr!.setEncoding("utf8").on("data", onText);
    exited = new Promise((resolve) => current.on("close", () => resolve()));
    let gone = false;
    void exited.then(() => gone = true);
    const deadline = Date.now() + 10_000;
    while (!(await answers(port))) {
      if (gone || Date.now() > deadline) {
        signal(current, "SIGKILL");
        throw new Error(`the private nats-server did not start:\n${output.slice(-20).join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = async () => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    signal(current, "SIGCONT");
    signal(current, "SIGTERM");
    const killer = setTimeout(() => signal(current, "SIGKILL"), 1000);
    await exited;
    clearTimeout(killer);
  };
  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    ...(pki && { pki }),
    ...(creds && { credsFile: creds.credsFile, strangerCredsFile: creds.strangerCredsFile }),
    output,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    freeze: () => signal(child, "SIGSTOP"),
    thaw: () => signal(child, "SIGCONT"),
    destroy: async () => {
      await stop();
      process.off("exit", killOnExit);
      pki?.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function authConfig(auth: PrivateNatsAuth | undefined, operatorConfig: string[] | undefined): string[] {
  if (auth === undefined) return [];
  if (auth === "creds") return operatorConfig!;
  return "token" in auth
    ? [`authorization { token: ${JSON.stringify(auth.token)} }`]
    : [`authorization { user: ${JSON.stringify(auth.user)}, password: ${JSON.stringify(auth.password)} }`];
}

function tlsConfig(pki: NatsPki, verifyClients: boolean): string[] {
  return [
    "tls {",
    `  cert_file: ${JSON.stringify(pki.server.cert)}`,
    `  key_file: ${JSON.stringify(pki.server.key)}`,
    `  ca_file: ${JSON.stringify(pki.ca)}`,
    `  verify: ${verifyClients}`,
    "}",
  ];
}

/**
 * Operator mode, as `nsc` would set it up: an operator, an account it signed (preloaded into a memory resolver),
 * a user the account signed, written to a creds file; and a user of another account the server does not know.
 */
function operatorMode(dir: string): { config: string[]; credsFile: string; strangerCredsFile: string } {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const stranger = nkeys.createAccount();
  const operatorJwt = signedJwt(operator, operator, "operator", { type: "operator", version: 2 });
  const accountJwt = signedJwt(operator, account, "account", {
    type: "account",
    version: 2,
    limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
  });
  const user = (issuer: nkeys.KeyPair, file: string) => {
    const key = nkeys.createUser();
    const jwt = signedJwt(issuer, key, "user", { type: "user", version: 2, subs: -1, data: -1, payload: -1 });
    const seed = new TextDecoder().decode(key.getSeed());
    const path = join(dir, file);
    writeFileSync(
      path,
      `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n`
        + `************************* IMPORTANT *************************\n\n`
        + `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
    );
    return path;
  };
  const operatorFile = join(dir, "operator.jwt");
  writeFileSync(operatorFile, operatorJwt);
  return {
    config: [
      `operator: ${JSON.stringify(operatorFile)}`,
      "resolver: MEMORY",
      `resolver_preload: { ${account.getPublicKey()}: ${JSON.stringify(accountJwt)} }`,
    ],
    credsFile: user(account, "user.creds"),
    strangerCredsFile: user(stranger, "stranger.creds"),
  };
}

/** A NATS JWT (RFC 7519 with the `ed25519-nkey` algorithm): claims about `subject`, signed by `issuer`. */
function signedJwt(issuer: nkeys.KeyPair, subject: nkeys.KeyPair, name: string, nats: object): string {
  const encode = (value: object | Uint8Array) =>
    Buffer.from(value instanceof Uint8Array ? value : JSON.stringify(value)).toString("base64url");
  const claims = {
    jti: randomBytes(16).toString("hex").toUpperCase(),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject.getPublicKey(),
    nats,
  };
  const unsigned = `${encode({ typ: "JWT", alg: "ed25519-nkey" })}.${encode(claims)}`;
  return `${unsigned}.${encode(issuer.sign(new TextEncoder().encode(unsigned)))}`;
}

/** Whether the server sends its INFO line: it then accepts clients (even with TLS, INFO comes first in clear). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("data", (data) => done(data.toString("latin1").startsWith("INFO")));
    socket.on("error", () => done(false));
  });
}

function signal(child: ChildProcess | undefined, name: NodeJS.Signals): void {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid!, name);
  } catch { /* exited meanwhile */ }
}

let shared: Promise<string | undefined> | undefined;

/**
 * The NATS that tests which never disturb it share (each on a mesh name of its own): NATS_URL when set; else the
 * usual local one, nats://127.0.0.1:4222, when a server answers there; else a private one started once for this
 * test process; else undefined, when this machine has no nats-server (then `skipWithoutNats` says why).
 */
export function sharedNats(): Promise<string | undefined> {
  shared ??= (async () => {
    if (process.env.NATS_URL) return process.env.NATS_URL;
    if (await answers(4222)) return "nats://127.0.0.1:4222";
    if (!binary) return undefined;
    // Killed when this process exits (startPrivateNats sees to it).
    return (await startPrivateNats()).url;
  })();
  return shared;
}
