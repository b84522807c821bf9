/**
 * Starting and stopping as operators do, on the runtime under test: SIGTERM to `npm start` (npm → the launcher,
 * or npm → sh → the launcher for a script without `exec`), SIGINT or SIGTERM to the whole process group, and SIGKILL
 * of the launcher leave no process behind (found in /proc by a variable only this test's
 * processes carry); the launcher is ready whatever the log level, gives up with a clear message when a process is
 * not ready in time, and with `--log json` writes only JSON lines; no process logs an error on a normal stop; and a
 * stopped service has closed its MySQL pool.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DENO_LAUNCHER_PERMISSIONS, runtimeCommand, spawnCommand } from "../lib/runtime/mod.ts";
import { closed, lines, waitForLine } from "./support/launcher.ts";
import { createTestDatabase, skipWithoutMysql } from "./support/mysql.ts";
import {
  eventually,
  freePort,
  removeDataDir,
  ROOT,
  RunningProcess,
  startProcess,
  temporaryDataDir,
  testRuntime,
} from "./support/processes.ts";

const SLOW = { timeout: 120_000 };
const MARK = "PILCROW_STOP_TEST";
const UP = /^Pilcrow is up: gateway on http:\/\/127\.0\.0\.1:(\d+)$/;

/** The pids of the live processes that carry `MARK=mark` in their environment (inherited by every descendant). */
function marked(mark: string): number[] {
  const wanted = `${MARK}=${mark}`;
  return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
    try {
      const environment = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      return environment.includes(wanted) && state !== "Z" ? [Number(pid)] : [];
    } catch {
      return []; // gone meanwhile, or not ours
    }
  });
}

async function noneLeft(mark: string, timeoutMs = 10_000): Promise<void> {
  await eventually(() => marked(mark).length === 0 || undefined, timeoutMs, "every process of the test to end")
    .catch(() => {
      const left = marked(mark);
      for (const pid of left) process.kill(pid, "SIGKILL");
      assert.fail(`processes left behind: ${left.join(", ")}`);
    });
}

/** Waits until the gateway answers a request the goods service serves: the whole system is up. */
async function gatewayAnswers(port: number): Promise<void> {
  await eventually(
    async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/goods`);
        await response.body?.cancel();
        return response.status === 200 || undefined;
      } catch {
        return undefined;
      }
    },
    60_000,
    `the gateway on ${port} to answer GET /goods`,
  );
}

function newMark(): string {
  return `${process.pid}-${Math.floor(Math.random() * 1e9)}`;
}

/** `pilcrow up ARGS` with this test's mark, children on the runtime under test. */
function startUp(args: string[], mark: string, env: Record<string, string | undefined> = {}): Promise<RunningProcess> {
  return startProcess("bin/pilcrow.ts", ["up", ...args], {
    waitForListen: false,
    denoPermissions: DENO_LAUNCHER_PERMISSIONS,
    env: { [MARK]: mark, ...env },
  });
}

const errorLines = (output: string[]) => output.filter((line) => /error/i.test(line));

/** A shell word: the script line npm hands to sh. */
const quoted = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/**
 * Runs `setsid npm start -- ARGS` (npm leading its own process group, as a shell's foreground job does) with this
 * test's mark; with PILCROW_LOG=json the entries are read back from its output.
 */
function npmStartInGroup(args: string[], mark: string, dataDir: string): RunningProcess {
  const npm = spawnCommand(
    ["setsid", "npm", "start", "--", ...args],
    { [MARK]: mark, PILCROW_LOG: "json", MYSQL_URL: undefined, PILCROW_DATA_DIR: dataDir },
    ROOT,
  );
  return new RunningProcess("npm", npm);
}

/** Whether every process stopped in order (the distributor last) with no warning or error line. */
function assertStoppedInOrder(output: string[]): void {
  const entries = output.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
  const stopping = entries.filter((entry) => entry.event === "stopping").map((entry) => entry.process);
  assert.deepEqual(stopping.slice().sort(), ["distributor", "gate", "goods", "members", "purchases"]);
  assert.equal(stopping.at(-1), "distributor", `the distributor stops last: ${stopping.join(", ")}`);
  const complaints = entries.filter((entry) => entry.level === "warn" || entry.level === "error");
  assert.deepEqual(complaints.filter((entry) => entry.event !== "store"), []);
}

describe("start and stop", () => {
  // `npm start` runs in the project root: its services keep their data here, not in the project's ./data.
  const dataDir = temporaryDataDir();
  after(() => removeDataDir(dataDir));

  it("SIGTERM to `npm start` stops every process it started, with no error line", SLOW, async () => {
    const mark = newMark();
    const port = await freePort();
    const npm = spawnCommand(
      ["npm", "start", "--", "--ports", "free", "--gate-port", String(port), "--runtime", testRuntime()],
      { [MARK]: mark, PILCROW_LOG: "human", MYSQL_URL: undefined, PILCROW_DATA_DIR: dataDir },
      ROOT,
    );
    const running = new RunningProcess("npm", npm);
    try {
      await gatewayAnswers(port);
      assert.ok(marked(mark).length >= 6, "npm, the launcher and its five children run");
      running.signal("SIGTERM");
      await closed(running);
      await noneLeft(mark);
      assert.ok(lines(running).some((line) => /^SIGTERM: stopping the gateway and the services/.test(line)));
      assert.deepEqual(errorLines(running.output), []);
    } finally {
      for (const pid of marked(mark)) process.kill(pid, "SIGKILL");
    }
  });

  for (
    const [signal, how] of [
      ["INT", "Ctrl-C in a terminal"],
      ["TERM", "systemd (KillMode=control-group), timeout or kill -- -PGID"],
    ]
  ) {
    it(`${how} (SIG${signal} to the whole process group) stops in order, with no warning`, SLOW, async () => {
      const mark = newMark();
      const port = await freePort();
      const args = ["--ports", "free", "--gate-port", String(port), "--runtime", testRuntime()];
      const running = npmStartInGroup(args, mark, dataDir);
      try {
        await eventually(
          () => running.output.some((line) => line.includes("\"event\":\"Pilcrow is up")) || undefined,
          60_000,
          "every process to be ready",
        );
        spawnSync("kill", [`-${signal}`, "--", `-${running.child.pid}`]);
        await closed(running);
        await noneLeft(mark);
        assertStoppedInOrder(running.output);
      } finally {
        for (const pid of marked(mark)) process.kill(pid, "SIGKILL");
      }
    });
  }

  it(
    "SIGTERM to npm running a script `pilcrow up` without exec (npm → sh → launcher) leaves nothing",
    SLOW,
    async () => {
      const mark = newMark();
      const port = await freePort();
      // A user's project whose start script runs the repo's own bin without `exec`: sh stays between npm and the
      // launcher, and dies of npm's SIGTERM without passing it on. The cd keeps Deno's --allow-read=. on the repo.
      const launcher = runtimeCommand(
        testRuntime(),
        `${ROOT}bin/pilcrow.ts`,
        ["up", "--ports", "free", "--gate-port", String(port)],
        DENO_LAUNCHER_PERMISSIONS,
      );
      const project = mkdtempSync(join(tmpdir(), "pilcrow-npm-"));
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({
          name: "user-project",
          private: true,
          scripts: { start: `cd ${quoted(ROOT)} && ${launcher.map(quoted).join(" ")}` },
        }),
      );
      const npm = spawnCommand(
        ["npm", "start"],
        { [MARK]: mark, PILCROW_LOG: "human", MYSQL_URL: undefined, PILCROW_DATA_DIR: dataDir },
        project,
      );
      const running = new RunningProcess("npm", npm);
      try {
        await gatewayAnswers(port);
        assert.ok(marked(mark).length >= 7, "npm, sh, the launcher and its five children run");
        running.signal("SIGTERM");
        // npm's exit, not its output's end: a launcher left running would hold that pipe open for ever.
        await running.exited;
        await noneLeft(mark);
      } finally {
        for (const pid of marked(mark)) process.kill(pid, "SIGKILL");
        rmSync(project, { recursive: true, force: true });
      }
    },
  );

  it("children stop by themselves when the launcher is killed outright (SIGKILL)", SLOW, async () => {
    const mark = newMark();
    const launcher = await startUp(["--ports", "free"], mark);
    await waitForLine(launcher, UP);
    assert.equal(marked(mark).length, 6, "the launcher and its five children run");
    launcher.signal("SIGKILL");
    await noneLeft(mark, 5000);
  });

  it("starts and stops at PILCROW_LOG_LEVEL=error, silently", SLOW, async () => {
    const mark = newMark();
    const port = await freePort();
    const launcher = await startUp(["--ports", "free", "--gate-port", String(port)], mark, {
      PILCROW_LOG: "human",
      PILCROW_LOG_LEVEL: "error",
    });
    await gatewayAnswers(port);
    const code = closed(launcher);
    launcher.signal("SIGINT");
    assert.equal(await code, 0);
    assert.deepEqual(launcher.output.filter((line) => line !== ""), []);
    await noneLeft(mark);
  });

  it(
    "with --log json writes only JSON lines, each naming its process, and no error on a normal stop",
    SLOW,
    async () => {
      const mark = newMark();
      const launcher = await startUp(["--ports", "free", "--instances", "goods=2", "--log", "json"], mark, {
        PILCROW_LOG: undefined,
      });
      await waitForLine(launcher, UP);
      const code = closed(launcher);
      launcher.signal("SIGTERM");
      assert.equal(await code, 0);
      const entries = launcher.output.filter((line) => line !== "").map((line) => JSON.parse(line));
      for (const entry of entries) {
        assert.equal(typeof entry, "object");
        assert.equal(typeof entry.process, "string", JSON.stringify(entry));
        assert.equal(typeof entry.event, "string", JSON.stringify(entry));
      }
      const processes = new Set(entries.map((entry) => entry.process));
      assert.deepEqual(
        [...processes].sort(),
        ["distributor", "gate", "goods", "goods#2", "members", "purchases", "up"],
      );
      assert.deepEqual(entries.filter((entry) => entry.level === "error"), []);
      for (const name of processes) {
        if (name !== "up") {
          assert.ok(
            entries.some((entry) => entry.process === name && entry.event === "stopping"),
            name,
          );
        }
      }
      await noneLeft(mark);
    },
  );

  it("gives up with a clear message when a process is not ready within --ready-timeout", SLOW, async () => {
    const mark = newMark();
    const launcher = await startUp(["--ports", "free", "--ready-timeout", "1"], mark, { PILCROW_LOG: "human" });
    assert.equal(await closed(launcher), 1);
    assert.match(
      launcher.output.join("\n"),
      /giving up: distributor was not ready within 1 ms \(--ready-timeout\); its own lines above may say why/,
    );
    await noneLeft(mark);
  });

  it("a service on MySQL closes its pool when it stops", { ...SLOW, skip: skipWithoutMysql }, async () => {
    const database = await createTestDatabase("stop");
    // The connections of this database but the test's own: other suites use other databases.
    const poolConnections = async () =>
      (await database.query<{ n: number }[]>(
        "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
        [database.name],
      ))[0].n;
    try {
      const distributor = await startProcess("distributor.ts", ["0"]);
      const goods = await startProcess("goods.ts", ["0", "--distributor", `127.0.0.1:${distributor.port}`], {
        env: { MYSQL_URL: database.url },
      });
      assert.ok(await poolConnections() > 0, "the pool is open while the service runs");
      assert.equal(await goods.stop(10_000), 0);
      await distributor.stop();
      assert.equal(await poolConnections(), 0, "the pool is closed once the service has stopped");
      assert.deepEqual(goods.entries.filter((entry) => entry.level === "error"), []);
    } finally {
      await database.drop();
    }
  });
});
