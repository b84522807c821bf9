/**
 * The commands users type, exactly as README.md writes them, through a shell, with `bun` and `deno` on the
 * PATH as a global install puts them (links to the npm-installed binaries). Each must start its process(es)
 * and print the listen line; the launcher commands must bring up a system the book's API client completes.
 * These test the commands, not the runtime under test, so they run once: under the Node runner.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runtimeName, signalProcess } from "../lib/runtime/mod.ts";
import { delay, eventually, ROOT } from "./support/processes.ts";

const skip = runtimeName === "node" ? false : "the commands are run once, under the Node runner";

interface Shell {
  child: ChildProcess;
  output: string[];
}

/**
 * The commands run in the project root, as the README says; their services keep their data in `dataDir` (each
 * command a new one), not in the project's ./data. A README command that grants Deno `--allow-write=data` (the
 * default data directory, under the project's `.`) is given read and write on that directory instead.
 */
function run(command: string, path: string, dataDir: string): Shell {
  // A process group of its own, so that stopping it reaches everything the command started (as Ctrl-C does).
  const local = command.replace(
    "--allow-read=. --allow-write=data ",
    `--allow-read=.,${dataDir} --allow-write=${dataDir} `,
  );
  const child = spawn("sh", ["-c", local], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH: path, PILCROW_LOG: "human", MYSQL_URL: "", PILCROW_DATA_DIR: dataDir },
  });
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8").on("data", (text: string) => output.push(...text.split("\n")));
  }
  return { child, output };
}

async function waitForLine(shell: Shell, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of shell.output) {
      const match = line.match(pattern);
      if (match) return match;
    }
    if (Date.now() > deadline || shell.child.exitCode !== null) {
      throw new Error(`no line matching ${pattern}; output:\n${shell.output.join("\n")}`);
    }
    await delay(50);
  }
}

async function stopGroup(shell: Shell): Promise<void> {
  const exited = new Promise<void>((resolve) => shell.child.once("exit", () => resolve()));
  signalProcess(-shell.child.pid!, "SIGTERM");
  const timer = setTimeout(() => signalProcess(-shell.child.pid!, "SIGKILL"), 8000);
  await exited;
  clearTimeout(timer);
  // Let the group's last members finish: nothing may outlive the command.
  for (let i = 0; i < 100 && signalProcess(-shell.child.pid!, 0); i++) await delay(50);
  assert.equal(signalProcess(-shell.child.pid!, 0), false, "no process of the command is left running");
}

describe("the README's commands", { skip }, () => {
  let bin: string;
  let path: string;
  const dataDirs: string[] = [];
  /** A new data directory for one command, removed at the end. */
  const dataDir = () => {
    dataDirs.push(mkdtempSync(join(tmpdir(), "pilcrow-data-")));
    return dataDirs.at(-1)!;
  };
  after(() => dataDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  before(() => {
    bin = mkdtempSync(join(tmpdir(), "pilcrow-bin-"));
    symlinkSync(join(ROOT, "node_modules/bun/bin/bun.exe"), join(bin, "bun"));
    symlinkSync(join(ROOT, "node_modules/deno/deno"), join(bin, "deno"));
    path = `${bin}:${process.env.PATH}`;
  });
  after(() => rmSync(bin, { recursive: true, force: true }));

  /**
   * The machine's own PATH: Node and npm, no global Bun, Deno or tsx (checked in the first test). `npm test`
   * puts node_modules/.bin first on the PATH of what it runs: that is npm's, not the machine's.
   */
  const bare = () => process.env.PATH!.split(":").filter((dir) => !dir.includes("node_modules")).join(":");

  it("the machine's PATH has no global bun, deno or tsx (the npx commands must work without)", () => {
    for (const name of ["bun", "deno", "tsx"]) {
      const found = bare().split(":").some((dir) => existsSync(join(dir, name)));
      assert.equal(found, false, `${name} is on the PATH`);
    }
  });

  for (
    const [command, withGlobals] of [
      ["npx tsx services/distributor.ts 0", false],
      ["npx bun services/distributor.ts 0", false],
      ["npx deno run -A services/distributor.ts 0", false],
      ["bun run services/distributor.ts 0", true],
      ["deno run -A services/distributor.ts 0", true],
      ["npx tsx services/goods.ts 0", false],
      ["bun run services/goods.ts 0", true],
      ["npx deno run --allow-net --allow-env --allow-read=. --allow-write=data services/members.ts 0", false],
      ["npx tsx bin/pilcrow.ts goods 0", false],
    ] as const
  ) {
    it(`${command} starts and prints its listen line`, async () => {
      const shell = run(command, withGlobals ? path : bare(), dataDir());
      try {
        await waitForLine(shell, /^listen \{ address: '127\.0\.0\.1', family: 'IPv4', port: \d+ \}$/);
      } finally {
        await stopGroup(shell);
      }
    });
  }

  for (
    const [command, withGlobals] of [
      ["npm start -- --ports free", false],
      ["npm start -- --ports free --runtime deno", false],
      ["npx bun services/up.ts --ports free", false],
      ["npx deno task up --ports free", false],
      ["npx tsx bin/pilcrow.ts up --ports free --runtime bun", false],
      ["bun run services/up.ts --ports free", true],
      ["deno task up --ports free", true],
    ] as const
  ) {
    it(`${command} brings up a system the API client completes`, async () => {
      const shell = run(command, withGlobals ? path : bare(), dataDir());
      try {
        const [, port] = await waitForLine(shell, /Pilcrow is up: gateway on http:\/\/127\.0\.0\.1:(\d+)/);
        // The gateway connects to the services just after they listen: the client starts once it routes to all three.
        for (const path of ["/goods", "/members?username=a&password=b", "/purchases?userid=1"]) {
          const routed = async () => (await fetch(`http://127.0.0.1:${port}${path}`)).status === 200 || undefined;
          await eventually(routed, 10_000, `the gateway routing ${path}`);
        }
        const client = run(`npm run --silent client -- --port ${port}`, bare(), dataDir());
        const code = await new Promise<number | null>((resolve) => client.child.once("close", resolve));
        const transcript = client.output.join("\n");
        assert.equal(code, 0, transcript);
        assert.match(transcript, /"key":\d+,"errorcode":0,"errormessage":"success","results":\[\{"id":1,"goodsid":1,/);
        assert.match(transcript, /\ndone\n/);
      } finally {
        await stopGroup(shell);
      }
    });
  }
});
