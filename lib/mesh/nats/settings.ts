/**
 * Where the NATS servers are and how a node proves who it is to them, from flags and the environment: the
 * `--mesh` URLs, one way to authenticate (user and password, token, or a creds file) and TLS. Everything is read
 * and checked at start-up, so a mistake stops the process with a message naming the option or file, never a
 * secret's value. Secrets are held in Secret, which prints as `[secret]`: settings can be logged whole.
 *
 * The launcher hands the same settings to its children through the environment (natsEnvironment), never argv,
 * which `ps` shows to every user of the machine.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";

/** A value that must never reach a log: it prints, inspects and serializes as `[secret]`. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[secret]";
  }
  toJSON(): string {
    return "[secret]";
  }
  [inspect.custom](): string {
    return "[secret]";
  }
}

export type NatsAuth =
  | { kind: "user"; user: string; password: Secret }
  | { kind: "token"; token: Secret }
  /** A creds file (a user JWT and its nkey seed), as `nsc` writes it; `file` is where it was read. */
  | { kind: "creds"; file: string; creds: Secret };

/** A PEM file, its path (passed on to children) and its text (given to the TLS layer). */
export interface PemFile {
  file: string;
  pem: string;
}

export interface NatsTls {
  /** The CA that signs the servers' certificates; without it the system's CAs. */
  ca?: PemFile;
  /** A client certificate and its key, for servers that verify clients (mutual TLS); both or neither. */
  cert?: PemFile;
  key?: PemFile;
}

/** `--mesh nats://host:4222[,…]` (PILCROW_MESH), with how to authenticate and encrypt. */
export interface NatsSettings {
  /** `nats://host:port` or `tls://host:port`, credentials taken out: safe to log. */
  servers: string[];
  /** The mesh's name, its subjects' first token (`--mesh-name`): meshes with other names share a server unseen. */
  name: string;
  auth?: NatsAuth;
  /** Set: every connection is TLS (a `tls://` URL or any `--nats-tls-*` asks for it). */
  tls?: NatsTls;
}

/** Each setting's environment variable: the children of the launcher get their settings in these. */
export const NATS_VARIABLES = {
  mesh: "PILCROW_MESH",
  name: "PILCROW_MESH_NAME",
  user: "PILCROW_NATS_USER",
  password: "PILCROW_NATS_PASSWORD",
  token: "PILCROW_NATS_TOKEN",
  creds: "PILCROW_NATS_CREDS",
  tlsCa: "PILCROW_NATS_TLS_CA",
  tlsCert: "PILCROW_NATS_TLS_CERT",
  tlsKey: "PILCROW_NATS_TLS_KEY",
} as const;

type Flags = Record<string, unknown>;
type Environment = (name: string) => string | undefined;

/**
 * The NATS settings of a process, or undefined without a mesh. A flag wins over its own variable; two ways to
 * authenticate, a password without a user, a certificate without its key or settings without a mesh are
 * refused. Throws an Error whose message names what is wrong (the callers make it a usage error).
 */
export function readNatsSettings(flags: Flags, environment: Environment): NatsSettings | undefined {
  const given = (flag: string, variable: string) => {
    const value = (flags[flag] as string | undefined) ?? environment(variable);
    return value === "" ? undefined : value;
  };
  const fromFileOrVariable = (flag: string, variable: string, what: string) => {
    const file = flags[flag] as string | undefined;
    if (file === undefined) return given(flag, variable);
    const text = readText(file, what).replace(/\r?\n$/, "");
    if (text === "") throw new Error(`the ${what} file ${file} (--${flag}) is empty`);
    return text;
  };
  // An empty variable is an unset one (a shell's habit); an empty flag is a mistake.
  if (flags.mesh === "") throw new Error("--mesh needs a NATS server: --mesh nats://HOST:PORT");
  const mesh = given("mesh", NATS_VARIABLES.mesh);
  const name = given("mesh-name", NATS_VARIABLES.name);
  const user = given("nats-user", NATS_VARIABLES.user);
  const password = fromFileOrVariable("nats-password-file", NATS_VARIABLES.password, "NATS password");
  const token = fromFileOrVariable("nats-token-file", NATS_VARIABLES.token, "NATS token");
  const credsFile = given("nats-creds", NATS_VARIABLES.creds);
  const tlsFiles = {
    ca: given("nats-tls-ca", NATS_VARIABLES.tlsCa),
    cert: given("nats-tls-cert", NATS_VARIABLES.tlsCert),
    key: given("nats-tls-key", NATS_VARIABLES.tlsKey),
  };
  if (mesh === undefined) {
    const stray = [name, user, password, token, credsFile, ...Object.values(tlsFiles)].some((value) =>
      value !== undefined
    );
    if (stray) {
      throw new Error(
        "NATS settings (a mesh name, credentials, TLS files) were given without --mesh (or PILCROW_MESH)",
      );
    }
    return undefined;
  }
  const { servers, auth: inUrls } = parseMesh(mesh);
  const ways: NatsAuth[] = [];
  if (inUrls) ways.push(inUrls);
  if (user !== undefined || password !== undefined) {
    if (user === undefined) throw new Error("a NATS password needs --nats-user (or PILCROW_NATS_USER)");
    if (password === undefined) {
      throw new Error("--nats-user needs a password: --nats-password-file PATH (or PILCROW_NATS_PASSWORD)");
    }
    ways.push({ kind: "user", user, password: new Secret(password) });
  }
  if (token !== undefined) ways.push({ kind: "token", token: new Secret(token) });
  if (credsFile !== undefined) ways.push({ kind: "creds", file: credsFile, creds: new Secret(readCreds(credsFile)) });
  if (ways.length > 1) {
    throw new Error(
      `give NATS one way to authenticate, not ${ways.map(describeAuth).join(" and ")}`,
    );
  }
  const tls = readTls(tlsFiles, servers.some((server) => server.startsWith("tls://")));
  return { servers, name: parseMeshName(name), ...(ways[0] && { auth: ways[0] }), ...(tls && { tls }) };
}

/** The name of a mesh when none is given. */
const DEFAULT_MESH_NAME = "pilcrow";

/** One NATS subject token of letters, digits, `_` and `-`: no `.`, `*` or `>` could widen what a node hears. */
function parseMeshName(text: string | undefined): string {
  if (text === undefined) return DEFAULT_MESH_NAME;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) {
    throw new Error(
      `--mesh-name (or PILCROW_MESH_NAME) must be 1 to 64 letters, digits, _ or -, not ${
        JSON.stringify(text.slice(0, 80))
      }`,
    );
  }
  return text;
}

/**
 * The servers of `--mesh` (or PILCROW_MESH): a comma-separated list of nats:// or tls:// URLs. Credentials in a
 * URL (`nats://user:password@host`, `nats://token@host`) are taken out of it, as NATS clients do, and must be
 * the same in every URL that has them: one connection authenticates the same way to each server.
 */
function parseMesh(text: string): { servers: string[]; auth?: NatsAuth } {
  const urls = text.split(",").map((server) => server.trim()).filter((server) => server !== "");
  if (urls.length === 0) throw new Error("--mesh (or PILCROW_MESH) names no NATS server");
  const servers: string[] = [];
  let auth: NatsAuth | undefined;
  let authText: string | undefined;
  // With credentials anywhere, no piece is shown whole: a comma in a password would split it across pieces.
  const withSecrets = text.includes("@");
  for (const text of urls) {
    const { server, userInfo } = parseServerUrl(text, withSecrets);
    servers.push(server);
    if (userInfo === undefined) continue;
    if (authText !== undefined && authText !== userInfo) {
      throw new Error("--mesh (or PILCROW_MESH) has different credentials in different URLs: give them once");
    }
    authText = userInfo;
    const colon = userInfo.indexOf(":");
    auth = colon === -1
      ? { kind: "token", token: new Secret(decodeURIComponent(userInfo)) }
      : {
        kind: "user",
        user: decodeURIComponent(userInfo.slice(0, colon)),
        password: new Secret(decodeURIComponent(userInfo.slice(colon + 1))),
      };
  }
  return auth ? { servers, auth } : { servers };
}

/**
 * The variables that give a child process these settings (lib/launcher/plan.ts): each set or, when unused,
 * undefined, so that the launcher's own environment cannot add a second way to authenticate. Credentials from
 * URLs travel as user and password, or token.
 */
export function natsEnvironment(settings: NatsSettings): Record<string, string | undefined> {
  const { auth, tls } = settings;
  return {
    [NATS_VARIABLES.mesh]: settings.servers.join(","),
    [NATS_VARIABLES.name]: settings.name,
    [NATS_VARIABLES.user]: auth?.kind === "user" ? auth.user : undefined,
    [NATS_VARIABLES.password]: auth?.kind === "user" ? auth.password.reveal() : undefined,
    [NATS_VARIABLES.token]: auth?.kind === "token" ? auth.token.reveal() : undefined,
    [NATS_VARIABLES.creds]: auth?.kind === "creds" ? auth.file : undefined,
    [NATS_VARIABLES.tlsCa]: tls?.ca?.file,
    [NATS_VARIABLES.tlsCert]: tls?.cert?.file,
    [NATS_VARIABLES.tlsKey]: tls?.key?.file,
  };
}

/** How a server appears in messages: without what a URL may carry before `@`. */
function withoutCredentials(text: string): string {
  const at = text.lastIndexOf("@");
  if (at === -1) return text;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? "";
  return `${scheme}…@${text.slice(at + 1)}`;
}

/** `withSecrets`: the whole of --mesh holds credentials, so a piece without `@` may be part of one. */
function parseServerUrl(text: string, withSecrets: boolean): { server: string; userInfo?: string } {
  const shown = text.includes("@") || !withSecrets ? withoutCredentials(text) : "a URL";
  const hint = withSecrets
    ? " (in --mesh, percent-encode , / @ : in credentials, or give them with --nats-user and --nats-password-file)"
    : "";
  const wrong = (why: string) => new Error(`--mesh (or PILCROW_MESH): ${shown} ${why}${hint}`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== "nats" && scheme !== "tls") {
    throw wrong("is not a NATS server URL: write nats://HOST:PORT (or tls://HOST:PORT)");
  }
  let url: URL;
  try {
    // Parsed as http so that every runtime's URL gives the host and port of a scheme it does not know.
    url = new URL(`http${text.slice(scheme.length)}`);
  } catch {
    throw wrong("is not a valid URL");
  }
  if (url.hostname === "") throw wrong("names no host");
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    throw wrong("must be only nats://HOST:PORT, without a path or query");
  }
  const port = url.port === "" ? "4222" : url.port;
  const server = `${scheme}://${url.hostname}:${port}`;
  // `nats://token@host` is a token, `nats://user:password@host` a user and password.
  const userInfo = url.username === ""
    ? undefined
    : url.password === ""
    ? url.username
    : `${url.username}:${url.password}`;
  return userInfo === undefined ? { server } : { server, userInfo };
}

function describeAuth(auth: NatsAuth): string {
  switch (auth.kind) {
    case "user":
      return "a user and password";
    case "token":
      return "a token";
    case "creds":
      return "a creds file";
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read the ${what} file ${file}: ${(error as Error).message}`);
  }
}

/** nsc's layout: a `NATS USER JWT` block and a `USER NKEY SEED` block, each between dashed lines. */
/**
 * The user JWT and nkey seed of a creds file's text, as `nsc` writes them, by their shape (a JWT's three parts, a
 * user seed's base32 `SU…`); connect.ts checks the seed's checksum when it connects, with the NATS client it loads
 * only then.
 */
export function credsParts(text: string): { jwt: string; seed: string } | undefined {
  const block = (title: string) =>
    new RegExp(`-{3,}[^\\n]*${title}[^\\n]*-{3,}\\r?\\n\\s*([\\w.=-]+)\\s*\\r?\\n\\s*-{3,}`).exec(text)?.[1];
  const jwt = block("NATS USER JWT");
  const seed = block("USER NKEY SEED");
  if (jwt === undefined || jwt.split(".").length !== 3 || seed === undefined || !/^SU[A-Z2-7]{50,}$/.test(seed)) {
    return undefined;
  }
  return { jwt, seed };
}

function readCreds(file: string): string {
  const text = readText(file, "NATS creds");
  if (credsParts(text) === undefined) {
    throw new Error(
      `the NATS creds file ${file} is not one: it must hold a NATS USER JWT and a USER NKEY SEED (as nsc writes them)`,
    );
  }
  return text;
}

/** The parsers' own messages are not passed on: they could quote a key. */
function readTls(files: Record<"ca" | "cert" | "key", string | undefined>, tlsUrl: boolean): NatsTls | undefined {
  if (files.ca === undefined && files.cert === undefined && files.key === undefined) return tlsUrl ? {} : undefined;
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new Error(
      "a NATS client certificate needs its key: give --nats-tls-cert and --nats-tls-key together "
        + "(or PILCROW_NATS_TLS_CERT and PILCROW_NATS_TLS_KEY), or neither",
    );
  }
  const pemFile = <T>(file: string | undefined, what: string, parse: (pem: string) => T) => {
    if (file === undefined) return undefined;
    const pem = readText(file, `NATS TLS ${what}`);
    try {
      return { file, pem, parsed: parse(pem) };
    } catch {
      throw new Error(`the NATS TLS ${what} file ${file} does not hold a ${what} in PEM form`);
    }
  };
  const ca = pemFile(files.ca, "CA certificate", (pem) => new X509Certificate(pem));
  const cert = pemFile(files.cert, "certificate", (pem) => new X509Certificate(pem));
  const key = pemFile(files.key, "private key", (pem) => createPrivateKey(pem));
  if (cert && key && !cert.parsed.checkPrivateKey(key.parsed)) {
    throw new Error(`the NATS TLS key file ${key.file} is not the key of the certificate in ${cert.file}`);
  }
  const plain = (entry?: { file: string; pem: string }) => entry && { file: entry.file, pem: entry.pem };
  return { ...(ca && { ca: plain(ca) }), ...(cert && { cert: plain(cert) }), ...(key && { key: plain(key) }) };
}
