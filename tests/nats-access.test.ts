/**
 * Getting into NATS: the settings from flags and the environment (and their usage errors), what the launcher
 * hands its children, and connectNats against private nats-servers that demand a password, a token, a creds file
 * or a client certificate. No secret may appear in any message or log line.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { parseCommandLine, UsageError } from "../lib/config.ts";
import { parseLaunchPlan, plannedProcesses } from "../lib/launcher/plan.ts";
import { createLogger } from "../lib/log.ts";
import { connectNats } from "../lib/mesh/nats/connect.ts";
import { NATS_VARIABLES, readNatsSettings } from "../lib/mesh/nats/settings.ts";
import { runtimeName } from "../lib/runtime/mod.ts";
import { type PrivateNats, skipWithoutNats, startPrivateNats } from "./support/private-nats.ts";

const PASSWORD = "pw-Xq81-never-logged";
const TOKEN = "tok-Zr52-never-logged";
const SECRETS = [PASSWORD, TOKEN];

const scratch = join(tmpdir(), `pilcrow-nats-access-${process.pid}`);
const file = (name: string, text: string) => {
  const path = `${scratch}-${name}`;
  writeFileSync(path, text);
  return path;
};

function usageErrorOf(args: string[]): string {
  try {
    parseCommandLine(0, [], args);
  } catch (error) {
    assert.ok(error instanceof UsageError, `not a UsageError: ${error}`);
    return error.message;
  }
  assert.fail(`accepted: ${args.join(" ")}`);
}

function assertNoSecret(text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `a secret leaked: ${text}`);
}

/** A logger that records every line, as the processes write them (JSON: every detail). */
function recordingLogger() {
  const lines: string[] = [];
  const stream = { write: (text: string) => lines.push(text) };
  const log = createLogger({
    name: "probe",
    format: "json",
    level: "debug",
    out: stream,
    err: stream,
    rateLimit: false,
  });
  return { log, lines };
}

describe("NATS settings", () => {
  it("refuses bad settings with a usage error that names the problem and no secret", () => {
    const cases: [string[], RegExp][] = [
      [["--mesh", `http://alice:${PASSWORD}@127.0.0.1:4222`], /http:\/\/…@127\.0\.0\.1:4222 is not a NATS server URL/],
      [["--mesh", "nats://127.0.0.1:4222/path"], /without a path/],
      [["--mesh", " , "], /names no NATS server/],
      [["--mesh", "nats://h:4222", "--nats-password-file", "/nonexistent/pw"], /cannot read the NATS password file/],
      [["--mesh", "nats://h:4222", "--nats-user", "alice"], /--nats-user needs a password/],
      [["--mesh", "nats://h:4222", "--nats-password-file", file("pw", PASSWORD)], /needs --nats-user/],
      [["--mesh", "nats://h:4222", "--nats-creds", file("creds", `not creds ${PASSWORD}`)], /creds file .* is not one/],
      [["--mesh", "nats://h:4222", "--nats-tls-cert", file("cert", "x")], /needs its key/],
      [["--mesh", "nats://h:4222", "--nats-tls-ca", file("ca", PASSWORD)], /does not hold a CA certificate/],
      [
        ["--mesh", `nats://${TOKEN}@h:4222`, "--nats-user", "a", "--nats-password-file", file("pw", PASSWORD)],
        /one way/,
      ],
      [["--mesh", `nats://a:${PASSWORD}@h:1,nats://a:other@h:2`], /different credentials/],
      [["--nats-token-file", file("token", TOKEN)], /without --mesh/],
      [["--mesh", "nats://h:4222", "--mesh-name", "a.b"], /--mesh-name .* letters, digits/],
      [["--mesh", "nats://h:4222", "--mesh-name", ">"], /--mesh-name/],
      [["--mesh-name", "shop"], /without --mesh/],
      [["--mesh="], /--mesh needs a NATS server/],
      // A password with a character that ends the URL's credentials early, or a comma that splits the list.
      [["--mesh", `nats://alice:${PASSWORD}/x@127.0.0.1:4222`], /not a valid URL.*percent-encode/],
      [["--mesh", `nats://alice:${PASSWORD},x@127.0.0.1:4222`], /a URL is not a valid URL|not a NATS server URL/],
      [["--mesh", `nats://${TOKEN}/x@127.0.0.1:4222`], /percent-encode/],
    ];
    for (const [args, expected] of cases) {
      const message = usageErrorOf(args);
      assert.match(message, expected);
      assertNoSecret(message);
    }
  });

  it("takes credentials out of URLs and prints secrets as [secret]", () => {
    const settings = readNatsSettings(
      { mesh: `nats://alice:${PASSWORD}@nats.internal, tls://b:4333` },
      () => undefined,
    )!;
    assert.deepEqual(settings.servers, ["nats://nats.internal:4222", "tls://b:4333"]);
    assert.equal(settings.auth?.kind === "user" && settings.auth.password.reveal(), PASSWORD);
    assert.deepEqual(settings.tls, {}, "a tls:// URL asks for TLS");
    assertNoSecret(inspect(settings, { depth: 9 }) + JSON.stringify(settings) + String(settings.auth));
  });

  it("the launcher starts no distributor and hands the settings to every node in the environment only", () => {
    const passwordFile = file("pw", `${PASSWORD}\n`);
    const plan = parseLaunchPlan(
      ["--nats-user", "alice", "--nats-password-file", passwordFile, "--instances", "goods=2"],
      "node",
      (name) =>
        name === "PILCROW_MESH" ? "nats://127.0.0.1:4222" : name === "PILCROW_NATS_TOKEN" ? undefined : undefined,
    );
    assert.deepEqual(
      plannedProcesses(plan).map(({ name }) => name),
      ["gate", "goods", "goods#2", "members", "purchases"],
    );
    for (const node of plan.nodes) {
      assert.ok(!node.args.some((arg) => /mesh|nats/.test(arg)), `NATS settings in argv: ${node.args.join(" ")}`);
      assertNoSecret(node.args.join(" "));
    }
    assert.deepEqual(plan.nodeEnvironment, {
      [NATS_VARIABLES.mesh]: "nats://127.0.0.1:4222",
      [NATS_VARIABLES.name]: "pilcrow",
      [NATS_VARIABLES.user]: "alice",
      [NATS_VARIABLES.password]: PASSWORD,
      [NATS_VARIABLES.token]: undefined,
      [NATS_VARIABLES.creds]: undefined,
      [NATS_VARIABLES.tlsCa]: undefined,
      [NATS_VARIABLES.tlsCert]: undefined,
      [NATS_VARIABLES.tlsKey]: undefined,
    });
    // What a child reads back from that environment is what the launcher parsed.
    const child = readNatsSettings({}, (name) => plan.nodeEnvironment[name])!;
    assert.deepEqual(inspect(child), inspect(plan.mesh));
    assert.equal(child.auth?.kind === "user" && child.auth.password.reveal(), PASSWORD);

    const tcp = parseLaunchPlan([], "node");
    assert.deepEqual(plannedProcesses(tcp)[0].name, "distributor");
    assert.deepEqual(tcp.nodeEnvironment, {});
  });
});

describe("connectNats against private nats-servers", { skip: skipWithoutNats }, () => {
  const servers: PrivateNats[] = [];
  const start = async (options: Parameters<typeof startPrivateNats>[0]) => {
    const nats = await startPrivateNats(options);
    servers.push(nats);
    return nats;
  };
  const recorded: string[] = [];
  after(async () => {
    await Promise.all(servers.map((nats) => nats.destroy()));
    assertNoSecret(recorded.join(""));
  });

  /** Connects and closes, or returns the refusal's message; every log line is kept and checked for secrets. */
  async function tryConnect(flags: Record<string, string>, withinMs = 10_000): Promise<string> {
    const { log, lines } = recordingLogger();
    const giveUp = AbortSignal.timeout(withinMs);
    try {
      const settings = readNatsSettings(flags, () => undefined)!;
      const connection = await connectNats(settings, log, "probe", giveUp);
      await connection.close();
      assert.ok(lines.some((line) => line.includes("NATS connected")), lines.join(""));
      return "connected";
    } catch (error) {
      const message = (error as Error).message;
      assertNoSecret(message);
      return message;
    } finally {
      recorded.push(...lines);
      assertNoSecret(lines.join(""));
    }
  }

  let userServer: PrivateNats;
  before(async () => {
    userServer = await start({ auth: { user: "alice", password: PASSWORD } });
  });

  it("user and password: refused with a wrong one, naming the server; connected with the right one", async () => {
    const refused = await tryConnect({ mesh: `nats://alice:wrong-${PASSWORD}@127.0.0.1:${userServer.port}` });
    assert.match(refused, new RegExp(`NATS at nats://127\\.0\\.0\\.1:${userServer.port} refused probe: Authorization`));
    assert.equal(await tryConnect({ mesh: `nats://alice:${PASSWORD}@127.0.0.1:${userServer.port}` }), "connected");
    const passwordFile = file("right-pw", `${PASSWORD}\n`);
    assert.equal(
      await tryConnect({ mesh: userServer.url, "nats-user": "alice", "nats-password-file": passwordFile }),
      "connected",
    );
  });

  it("token: refused with a wrong one, connected with the right one", async () => {
    const nats = await start({ auth: { token: TOKEN } });
    assert.match(await tryConnect({ mesh: nats.url, "nats-token-file": file("bad-token", "nope") }), /Authorization/);
    assert.equal(await tryConnect({ mesh: nats.url, "nats-token-file": file("token", TOKEN) }), "connected");
  });

  it("creds file (operator mode): connected; a user of an unknown account refused", async () => {
    const nats = await start({ auth: "creds" });
    assert.equal(await tryConnect({ mesh: nats.url, "nats-creds": nats.credsFile! }), "connected");
    assert.match(await tryConnect({ mesh: nats.url, "nats-creds": nats.strangerCredsFile! }), /Authorization/);
  });

  it("mutual TLS with a test CA: connected with a client certificate, refused for another CA", async () => {
    const nats = await start({ tls: { verifyClients: true } });
    const pki = nats.pki!;
    const client = { "nats-tls-cert": pki.client.cert, "nats-tls-key": pki.client.key };
    assert.equal(await tryConnect({ mesh: nats.url, "nats-tls-ca": pki.ca, ...client }), "connected");
    assert.match(
      await tryConnect({ mesh: nats.url, "nats-tls-ca": pki.strangerCa, ...client }),
      /refused probe: TLS failed/,
    );
  });

  // Deno: nats.js's transport lets the server's TLS alert through as an uncaught error, which ends the process.
  it("mutual TLS without a client certificate is not let in", { skip: runtimeName === "deno" }, async () => {
    const nats = await start({ tls: { verifyClients: true } });
    assert.notEqual(await tryConnect({ mesh: nats.url, "nats-tls-ca": nats.pki!.ca }, 1500), "connected");
  });

  it("the first connect waits for a server that is not up yet, saying so", async () => {
    const nats = await start({});
    await nats.stop();
    const { log, lines } = recordingLogger();
    const connecting = connectNats(readNatsSettings({ mesh: nats.url }, () => undefined)!, log, "probe");
    await new Promise((resolve) => setTimeout(resolve, 400));
    await nats.restart();
    const connection = await connecting;
    await connection.close();
    assert.ok(lines.some((line) => line.includes("NATS not reachable yet")), lines.join(""));
    assert.ok(lines.some((line) => line.includes("NATS connected")), lines.join(""));
  });
});
