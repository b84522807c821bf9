/**
 * The `pilcrow` command (bin/pilcrow.ts) as users run it, on the runtime under test: --version, --help on the
 * command and on each subcommand (made from the same option tables the code parses), unknown commands and options,
 * and a user's service file started by the launcher with `up --service`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { DENO_LAUNCHER_PERMISSIONS } from "../lib/runtime/mod.ts";
import { closed, lines, stopLauncher, waitForLine } from "./support/launcher.ts";
import { ROOT, startProcess } from "./support/processes.ts";

const SLOW = { timeout: 120_000 };

/** Runs `pilcrow ARGS` to its end. */
async function pilcrow(...args: string[]): Promise<{ code: number | null; output: string }> {
  const running = await startProcess("bin/pilcrow.ts", args, {
    waitForListen: false,
    denoPermissions: DENO_LAUNCHER_PERMISSIONS,
  });
  const code = await closed(running);
  return { code, output: running.output.join("\n") };
}

describe("the pilcrow command", () => {
  it("prints the package's version", SLOW, async () => {
    const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));
    assert.deepEqual(await pilcrow("--version"), { code: 0, output: `pilcrow ${version}` });
  });

  it("lists its commands with --help, and without arguments", SLOW, async () => {
    for (const args of [["--help"], []]) {
      const { code, output } = await pilcrow(...args);
      assert.equal(code, 0);
      for (const command of ["up", "distributor", "gate", "goods", "members", "purchases", "client"]) {
        assert.match(output, new RegExp(`^  ${command} +\\S`, "m"), command);
      }
    }
  });

  it("prints each subcommand's options, with their variables and defaults", SLOW, async () => {
    const gate = await pilcrow("gate", "--help");
    assert.equal(gate.code, 0);
    assert.match(gate.output, /^usage: gate \[PORT\] \[options\]/);
    assert.match(gate.output, /--timeout MS .*\(env PILCROW_TIMEOUT_MS; default 5000\)/);
    assert.match(gate.output, /--log-level debug\|info\|warn\|error .*PILCROW_LOG_LEVEL/);
    assert.doesNotMatch(gate.output, /--drain/);
    const goods = await pilcrow("goods", "--help");
    assert.match(goods.output, /--drain MS .*PILCROW_DRAIN_MS/);
    assert.match(goods.output, /--max-in-flight N/);
    const up = await pilcrow("up", "--help");
    assert.equal(up.code, 0);
    assert.match(up.output, /^usage: pilcrow up \[options\]/);
    for (const option of ["--ready-timeout MS", "--service FILE", "--log-level", "--timeout MS", "--drain MS"]) {
      assert.ok(up.output.includes(option), option);
    }
    assert.doesNotMatch(up.output, /--distributor HOST:PORT/, "the launcher tells its children where it is");
  });

  it("accepts every option the README documents", SLOW, async () => {
    const readme = readFileSync(`${ROOT}README.md`, "utf8");
    const documented = new Set([...readme.matchAll(/^\|[^|]*?`(--[a-z-]+)/gm)].map((match) => match[1]));
    assert.ok(documented.size > 10, "the README's option tables were found");
    const helps = await Promise.all(["up", "gate", "goods"].map((command) => pilcrow(command, "--help")));
    const known = helps.map(({ output }) => output).join("\n");
    for (const option of documented) assert.match(known, new RegExp(`${option}\\b`), option);
  });

  it("exits 2 on an unknown command or option, pointing to --help", SLOW, async () => {
    const command = await pilcrow("serve");
    assert.equal(command.code, 2);
    assert.match(command.output, /unknown command serve\nRun pilcrow --help/);
    for (const subcommand of ["gate", "goods", "up"]) {
      const { code, output } = await pilcrow(subcommand, "--bogus");
      assert.equal(code, 2, subcommand);
      assert.match(output, /Unknown option '--bogus'/, subcommand);
      assert.match(output, new RegExp(`${subcommand} --help lists the options`), subcommand);
    }
    const badValue = await pilcrow("up", "--ready-timeout", "soon");
    assert.equal(badValue.code, 2);
    assert.match(badValue.output, /--ready-timeout must be a positive whole number, not soon/);
    // Past the timers' limit (2^31-1 ms) a timer fires at once: refused, rather than giving up at once.
    const tooLong = await pilcrow("up", "--ready-timeout", "2147483648");
    assert.equal(tooLong.code, 2);
    assert.match(tooLong.output, /--ready-timeout must be at most 3600000 ms \(1 h\), not 2147483648/);
    assert.doesNotMatch(tooLong.output, /TimeoutOverflowWarning/);
  });

  it("runs a user's service file under the launcher (up --service)", SLOW, async () => {
    const launcher = await startProcess("bin/pilcrow.ts", ["up", "--ports", "free", "--service", "examples/echo.ts"], {
      waitForListen: false,
      denoPermissions: DENO_LAUNCHER_PERMISSIONS,
    });
    try {
      const [, port] = await waitForLine(launcher, /^Pilcrow is up: gateway on http:\/\/127\.0\.0\.1:(\d+)$/);
      assert.ok(lines(launcher).some((line) => /^echo started \(pid \d+, any free port\)$/.test(line)));
      let answer: { errorcode?: number; echo?: string } = {};
      for (let attempt = 0; attempt < 100; attempt++) {
        const response = await fetch(`http://127.0.0.1:${port}/echo?text=hi`);
        answer = await response.json();
        if (response.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual([answer.errorcode, answer.echo], [0, "hi"]);
    } finally {
      await stopLauncher(launcher);
    }
  });

  it("says clearly when a --service file is missing", SLOW, async () => {
    const { code, output } = await pilcrow("up", "--service", "./no-such-service.ts");
    assert.equal(code, 2);
    assert.match(output, /--service: no such file .*no-such-service\.ts/);
  });

  it("says clearly when a --service file is a directory, with no stack trace", SLOW, async () => {
    const { code, output } = await pilcrow("up", "--service", "./examples");
    assert.equal(code, 2);
    assert.match(output, /--service: .*examples is not a file \(a service is one \.ts or \.js file\)/);
    assert.doesNotMatch(output, /\n\s+at /, "no stack trace");
  });
});
