/**
 * The package as a user gets it: `npm pack` (which builds dist/ first), the tarball installed into a new project
 * that has nothing else, a service written there against the public API only, and the distributor and the
 * gateway started from the installed `pilcrow` command. Everything runs on the runtime running this test and
 * on nothing of the repository's: plain `node` (no tsx: the service is a .mjs file), `bun` (a .ts service), or
 * `deno run -A` of a .ts service that imports "pilcrow" from the project's node_modules.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { runtimeName, spawnCommand } from "../lib/runtime/mod.ts";
import { eventually, ROOT, RunningProcess, stopAll } from "./support/processes.ts";

// A user's service, as README.md shows one: valid JavaScript and valid TypeScript at once (the handler's
// params and answer are typed by the contract), so the same text runs on Node as .mjs and on Bun and Deno as .ts.
const SERVICE = `import * as v from "valibot";
import { defineService, runService, ServiceError } from "pilcrow";

export const echo = defineService("echo", {
  "GET/echo": {
    params: v.object({ text: v.pipe(v.string(), v.maxLength(100)) }),
    answer: v.object({ echo: v.string() }),
  },
});

await runService(echo, {
  port: 9040,
  start: () => ({
    handlers: {
      "GET/echo": async ({ text }) => {
        if (text === "") throw new ServiceError("nothing to echo");
        return { echo: text.toUpperCase() };
      },
    },
  }),
});
`;

// The same service with a handler whose answer breaks its contract: the user's compiler must say so, which
// shows that the installed declarations type handlers (an \`any\` would let it through).
const WRONG_SERVICE = SERVICE.replace("{ echo: text.toUpperCase() }", "{ echo: text.length }");

// A strict project of the user's own, nothing lenient. No global types named: the package's declarations must
// bring Node's types themselves (they use node:util, node:net…), from the @types/node npm installs as a peer.
const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  },
};

interface PackedFile {
  path: string;
}

describe("the package installed from its tarball", () => {
  let work: string;
  let project: string;
  let packed: string[];
  const running: RunningProcess[] = [];

  before(() => {
    work = mkdtempSync(join(tmpdir(), "pilcrow-package-"));
    const [{ filename, files }] = JSON.parse(
      run("npm", ["pack", "--json", "--pack-destination", work], ROOT),
    ) as { filename: string; files: PackedFile[] }[];
    packed = files.map(({ path }) => path);
    project = join(work, "app");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    // Without the optional SQLite driver for Node: no prebuilt binary may be reachable, and building it from
    // source takes minutes; the embedded store these services use does not need it.
    const install = ["install", "--omit=optional", "--no-audit", "--no-fund", "--prefer-offline"];
    run("npm", [...install, join(work, filename)], project);
    writeFileSync(join(project, "service.ts"), SERVICE);
    writeFileSync(join(project, "service.mjs"), SERVICE);
    writeFileSync(join(project, "wrong-service.ts"), WRONG_SERVICE);
  });

  after(async () => {
    await stopAll(running);
    rmSync(work, { recursive: true, force: true });
  });

  it("holds only what users need: built JavaScript with declarations, the docs, no sources or tests", () => {
    assert.ok(packed.includes("dist/mod.js") && packed.includes("dist/mod.d.ts"), packed.join("\n"));
    assert.ok(packed.includes("dist/bin/pilcrow.js"), "the pilcrow command is built");
    assert.ok(packed.includes("README.md") && packed.includes("docs/guide.md"));
    const unwanted = packed.filter((path) =>
      /^(tests|scripts|examples|bench|\.ci)\//.test(path) || /(^|\/)bench/.test(path)
      || (path.endsWith(".ts") && !path.endsWith(".d.ts"))
    );
    assert.deepEqual(unwanted, []);
  });

  it("type-checks a user's service with the user's own strict tsc: no error, and a broken contract is caught", () => {
    const tsc = join(ROOT, "node_modules/.bin/tsc");
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ ...TSCONFIG, files: ["service.ts"] }));
    assert.equal(run(tsc, ["-p", "."], project), "");
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ ...TSCONFIG, files: ["wrong-service.ts"] }));
    const failed = runFailing(tsc, ["-p", "."], project);
    assert.match(failed, /^wrong-service\.ts\(\d+,\d+\): error TS2322: /m);
    assert.doesNotMatch(failed, /node_modules/, "no error inside the installed package");
  });

  it("installs the pilcrow command, which knows its version", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    assert.equal(run(pilcrow("--version")[0], pilcrow("--version").slice(1), project), `pilcrow ${version}\n`);
  });

  it(`runs the service on ${runtimeName}, behind the distributor and gateway of the pilcrow command`, async () => {
    const distributor = await start("distributor", pilcrow("distributor", "--port", "0"));
    const gate = await start(
      "gate",
      pilcrow("gate", "--port", "0", "--distributor", `127.0.0.1:${distributor.port}`),
    );
    const service = await start(
      "echo",
      serviceCommand("--port", "0", "--distributor", `127.0.0.1:${distributor.port}`),
    );

    const base = `http://127.0.0.1:${gate.port}`;
    const answer = await eventually(
      async () => {
        const response = await fetch(`${base}/echo?text=hello`);
        const body = await response.json();
        return response.status === 200 ? body : undefined;
      },
      15_000,
      "the gateway to route GET /echo",
    );
    assert.deepEqual(answer, { key: answer.key, errorcode: 0, errormessage: "success", echo: "HELLO" });

    const refused = await fetch(`${base}/echo?text=`);
    assert.deepEqual(pick(await refused.json(), "errorcode", "errormessage"), {
      errorcode: 1,
      errormessage: "nothing to echo",
    });
    const malformed = await fetch(`${base}/echo?text=${"x".repeat(101)}`);
    assert.equal((await malformed.json()).errorcode, 1, "a text over the contract's 100 characters is refused");

    // Stopped as an operator does, the service first and the distributor last: each exits 0, and says no error.
    for (const each of [service, gate, distributor]) {
      assert.equal(await each.stop(8000), 0, `${each.name} exits 0 on SIGTERM`);
    }
    for (const each of [service, gate, distributor]) {
      const errors = each.entries.filter((entry) => entry.level === "error");
      assert.deepEqual(errors, [], `${each.name} logs no error on a normal stop`);
    }
  });

  /** The installed `pilcrow` command, on the runtime under test: on Node, the bin itself (its #! line). */
  function pilcrow(...args: string[]): string[] {
    const bin = join(project, "node_modules/.bin/pilcrow");
    return runtimeName === "node" ? [bin, ...args] : onRuntime(bin, args);
  }

  function serviceCommand(...args: string[]): string[] {
    return onRuntime(join(project, runtimeName === "node" ? "service.mjs" : "service.ts"), args);
  }

  async function start(name: string, argv: string[]): Promise<RunningProcess> {
    const child = spawnCommand(argv, { PILCROW_LOG: "json", MYSQL_URL: undefined }, project);
    const started = new RunningProcess(name, child);
    running.push(started);
    const listen = await started.waitForEvent("listen", 30_000);
    started.port = (listen.details[0] as { port: number }).port;
    return started;
  }
});

/** The runtime running this test, as a user would run a file on it: plain node, bun, `deno run -A`. */
function onRuntime(file: string, args: string[]): string[] {
  switch (runtimeName) {
    case "node":
      return [process.execPath, file, ...args];
    case "bun":
      return [process.execPath, "run", file, ...args];
    case "deno":
      return [process.execPath, "run", "-A", file, ...args];
  }
}

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    // tsc, run by npm pack's build, reports on stdout, deno publish on stderr: the failure says why with both.
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw Object.assign(new Error(`${command} ${args.join(" ")} failed:\n${stdout}\n${stderr}`), { stdout });
  }
}

/** Runs a command that must fail, and gives its output. */
function runFailing(command: string, args: string[], cwd: string): string {
  try {
    run(command, args, cwd);
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? "");
  }
  assert.fail(`${command} ${args.join(" ")} succeeded`);
}

function pick(value: Record<string, unknown>, ...names: string[]): Record<string, unknown> {
  return Object.fromEntries(names.map((name) => [name, value[name]]));
}

// What JSR would publish (the TypeScript sources, deno.json's "publish" list) passes its checks: no slow types
// in the public API. The same on every runtime, so run once, under the Node runner.
describe("the package for JSR", { skip: runtimeName === "node" ? false : "run once, under the Node runner" }, () => {
  it("passes deno publish --dry-run", () => {
    // It exits non-zero on any error, which run() turns into this test's failure with deno's report.
    run(join(ROOT, "node_modules/.bin/deno"), ["publish", "--dry-run", "--allow-dirty"], ROOT);
  });
});
