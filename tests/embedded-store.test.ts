/**
 * The embedded store as a user meets it, through the launcher and the gateway on the runtime under test: every
 * instance of a service answers from one SQLite file, a service killed outright and restarted by the launcher
 * still has every write it acknowledged, a whole system stopped and started again on the same data directory
 * finds its data, and a data directory that cannot be used, or is malformed, stops a service at start-up with
 * a message saying why.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { parseDataDir, UsageError } from "../lib/config.ts";
import { DENO_LAUNCHER_PERMISSIONS, DENO_PERMISSIONS, runtimeCommand } from "../lib/runtime/mod.ts";
import {
  childPids,
  closed,
  gatewayConnections,
  lines,
  startLauncher,
  stopLauncher,
  waitForLine,
} from "./support/launcher.ts";
import {
  delay,
  eventually,
  removeDataDir,
  type RunningProcess,
  startProcess,
  temporaryDataDir,
} from "./support/processes.ts";
import type { Json } from "./support/system.ts";

const SLOW = { timeout: 180_000 };
const UP = /^Pilcrow is up: gateway on http:\/\/127\.0\.0\.1:(\d+)$/;

async function call(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

function goodsNamed(name: string) {
  return { name, category: "embedded", price: 1, description: "kept" };
}

async function goodsNames(port: number): Promise<string[]> {
  const listed = await call(port, "GET", "/goods");
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  // An empty table is errorcode 1 (no goods), as in the book.
  return listed.body.errorcode === 0 ? listed.body.results.map((row: Json) => row.name) : [];
}

/** The launcher on free ports and `dataDir`; resolves with it and the gateway's port once every service is routed. */
async function startUp(dataDir: string, extra: string[] = []): Promise<{ launcher: RunningProcess; port: number }> {
  const launcher = await startLauncher(["--ports", "free", ...extra], dataDir);
  const port = Number((await waitForLine(launcher, UP))[1]);
  return { launcher, port };
}

describe("embedded store under the launcher", () => {
  let dataDir = "";
  before(() => {
    dataDir = temporaryDataDir();
  });
  after(() => removeDataDir(dataDir));

  it("two goods instances on one data directory answer the same list, whichever answers", SLOW, async () => {
    const { launcher, port } = await startUp(dataDir, ["--instances", "goods=2"]);
    try {
      await eventually(() => gatewayConnections(launcher, "goods") === 2 || undefined, 30_000, "gate → 2 goods");
      const posted: string[] = [];
      for (let i = 0; i < 6; i++) {
        const name = `shared ${i}`;
        const answer = await call(port, "POST", "/goods", goodsNamed(name));
        assert.deepEqual([answer.status, answer.body.errorcode], [200, 0], JSON.stringify(answer.body));
        posted.push(name);
      }
      // The gateway alternates between the two instances: eight GETs in a row reach both, four times each.
      const answers: string[][] = [];
      for (let i = 0; i < 8; i++) answers.push(await goodsNames(port));
      for (const answer of answers) {
        assert.deepEqual(answer, posted, `every answer the same: ${JSON.stringify(answers)}`);
      }
      const goodsLog = ["goods", "goods#2"].map((name) =>
        lines(launcher).filter((line) => line.startsWith(`[${name}] {`) && line.includes("\"event\":\"store\""))
      );
      for (const storeLines of goodsLog) {
        assert.equal(storeLines.length, 1, "each instance says where its store is");
        assert.ok(storeLines[0].includes(join(dataDir, "goods.sqlite")), storeLines[0]);
      }
    } finally {
      await stopLauncher(launcher);
    }
  });

  it(
    "a goods instance killed with SIGKILL while POSTs run, restarted by the launcher, has every acknowledged goods",
    SLOW,
    async () => {
      const { launcher, port } = await startUp(dataDir);
      try {
        await eventually(() => gatewayConnections(launcher, "goods") === 1 || undefined, 30_000, "gate → goods");
        const before = await goodsNames(port);
        const acknowledged: string[] = [];
        const failed: number[] = [];
        let stop = false;
        // Writers that never wait: some of their POSTs are in flight when the instance dies.
        const writer = async (id: number) => {
          for (let n = 0; !stop; n++) {
            const name = `kill ${id}.${n}`;
            const answer = await call(port, "POST", "/goods", goodsNamed(name)).catch(() => undefined);
            if (answer?.status === 200 && answer.body.errorcode === 0) {
              acknowledged.push(name);
            } else {
              failed.push(answer?.status ?? 0);
              await delay(20); // no instance for a moment: 503 at once, no need to spin
            }
          }
        };
        const writers = [1, 2, 3, 4].map(writer);
        await eventually(() => acknowledged.length >= 20 || undefined, 30_000, "writes acknowledged");
        const [pid] = childPids(launcher, "goods");
        const from = launcher.output.length;
        process.kill(pid, "SIGKILL");
        await waitForLine(launcher, /^goods exited \(signal SIGKILL\)/, from);
        await waitForLine(launcher, /^goods started \(pid \d+, port \d+\)$/, from);
        await eventually(() => gatewayConnections(launcher, "goods", from) === 1 || undefined, 30_000, "gate → goods");
        // Keep writing a little on the new instance, then stop.
        const afterRestart = acknowledged.length;
        await eventually(() => acknowledged.length >= afterRestart + 5 || undefined, 30_000, "writes after restart");
        stop = true;
        await Promise.all(writers);

        const names = new Set(await goodsNames(port));
        const lost = acknowledged.filter((name) => !names.has(name));
        assert.deepEqual(lost, [], `${acknowledged.length} acknowledged, ${failed.length} failed (${failed})`);
        for (const name of before) assert.ok(names.has(name), `kept from before: ${name}`);
      } finally {
        await stopLauncher(launcher);
      }
    },
  );

  it("a whole system stopped and started again on the same data directory still has its data", SLOW, async () => {
    const first = await startUp(dataDir);
    const member = { username: "kept member", password: "1234", passwordConfirm: "1234" };
    try {
      // Every service the test writes to is routable first: a POST the gateway cannot route yet is a 503.
      for (const name of ["goods", "members", "purchases"]) {
        await eventually(() => gatewayConnections(first.launcher, name) === 1 || undefined, 30_000, name);
      }
      assert.equal((await call(first.port, "POST", "/goods", goodsNamed("across restarts"))).body.errorcode, 0);
      assert.equal((await call(first.port, "POST", "/members", member)).body.errorcode, 0);
      assert.equal((await call(first.port, "POST", "/purchases", { userid: 77, goodsid: 5 })).body.errorcode, 0);
    } finally {
      const exit = closed(first.launcher);
      first.launcher.signal("SIGTERM");
      assert.equal(await exit, 0);
    }
    const second = await startUp(dataDir);
    try {
      for (const name of ["goods", "members", "purchases"]) {
        await eventually(() => gatewayConnections(second.launcher, name) === 1 || undefined, 30_000, name);
      }
      assert.ok((await goodsNames(second.port)).includes("across restarts"));
      const login = await call(second.port, "GET", "/members?username=kept%20member&password=1234");
      assert.equal(login.body.errorcode, 0, JSON.stringify(login.body));
      const again = await call(second.port, "POST", "/members", member);
      assert.equal(again.body.errorcode, 1, "the username is still taken");
      const purchases = await call(second.port, "GET", "/purchases?userid=77");
      assert.equal(purchases.body.errorcode, 0, JSON.stringify(purchases.body));
      assert.equal(purchases.body.results.length, 1);
    } finally {
      await stopLauncher(second.launcher);
    }
  });
});

describe("data directory that cannot be used", () => {
  const made: string[] = [];
  after(() => made.forEach(removeDataDir));

  /** A goods service on `dataDir`: it must exit 1 before listening, saying why. */
  async function refused(dataDir: string, why: RegExp): Promise<void> {
    const goods = await startProcess("goods.ts", ["0", "--data-dir", dataDir], { waitForListen: false });
    const code = await closed(goods);
    const output = goods.output.join("\n");
    assert.equal(code, 1, output);
    assert.ok(!goods.entries.some((entry) => entry.event === "listen"), "it never listens");
    const failure = goods.entries.find((entry) => entry.event === "failed to start");
    assert.ok(failure, output);
    assert.match(String(failure.details[0]), why);
  }

  it("a path that is a file, or lies under one: exit 1 naming the directory", SLOW, async () => {
    const root = temporaryDataDir();
    made.push(root);
    const file = join(root, "a-file");
    writeFileSync(file, "");
    await refused(file, /data directory .*a-file cannot be used: it is \(or lies under\) a file, not a directory/);
    await refused(join(file, "below"), /a-file\/below cannot be used: it is \(or lies under\) a file/);
  });

  it("a directory this process may not write in: exit 1 naming it", SLOW, async (t) => {
    const root = temporaryDataDir();
    made.push(root);
    const locked = join(root, "locked");
    mkdirSync(locked);
    if (process.getuid?.() === 0) {
      // Root writes through file modes: only the immutable attribute stops it.
      const { spawnSync } = await import("node:child_process");
      const chattr = spawnSync("chattr", ["+i", locked]);
      if (chattr.status !== 0) return t.skip("chattr +i is not available here");
      try {
        await refused(locked, /locked cannot be used: this process may not write there/);
      } finally {
        spawnSync("chattr", ["-i", locked]);
      }
    } else {
      chmodSync(locked, 0o500);
      try {
        await refused(locked, /locked cannot be used: this process may not write there/);
      } finally {
        chmodSync(locked, 0o700);
      }
    }
  });

  it("the launcher gives up with exit 1 when its services cannot use the data directory", SLOW, async () => {
    const root = temporaryDataDir();
    made.push(root);
    const file = join(root, "not-a-dir");
    writeFileSync(file, "");
    const launcher = await startLauncher(["--ports", "free", "--data-dir", file]);
    try {
      assert.equal(await closed(launcher), 1);
      const output = lines(launcher).join("\n");
      assert.match(output, /not-a-dir cannot be used: it is \(or lies under\) a file, not a directory/);
      assert.match(output, /giving up: \S+ exited before listening 3 times in a row/);
    } finally {
      await stopLauncher(launcher);
    }
  });
});

describe("malformed --data-dir", () => {
  const cases: [what: string, value: string, message: RegExp][] = [
    ["empty", "", /--data-dir \(or PILCROW_DATA_DIR\) must name a directory, or :memory:, not an empty string/],
    ["blank", "  ", /must name a directory, or :memory:, not an empty string/],
    ["a line break", "data\nelse", /must not hold control characters: "data\\nelse"/],
    ["a mistyped :memory:", ":memory", /must be a directory or exactly :memory:, not ":memory"/],
  ];

  for (const [what, value, message] of cases) {
    it(`${what}: a service exits 2 with a usage message, before opening anything`, SLOW, async () => {
      const goods = await startProcess("goods.ts", ["0", "--data-dir", value], { waitForListen: false });
      assert.equal(await closed(goods), 2, goods.output.join("\n"));
      assert.match(goods.output.join("\n"), message);
    });
  }

  it("empty in PILCROW_DATA_DIR: the launcher exits 2 too, starting nothing", SLOW, async () => {
    const launcher = await startProcess("up.ts", ["--ports", "free"], {
      waitForListen: false,
      env: { PILCROW_DATA_DIR: "" },
      denoPermissions: DENO_LAUNCHER_PERMISSIONS,
    });
    assert.equal(await closed(launcher), 2, launcher.output.join("\n"));
    assert.match(launcher.output.join("\n"), /PILCROW_DATA_DIR\) must name a directory/);
    assert.deepEqual(childPids(launcher), []);
  });

  it("the launcher refuses a malformed --data-dir with exit 2, starting nothing", SLOW, async () => {
    const launcher = await startLauncher(["--data-dir", ""]);
    assert.equal(await closed(launcher), 2);
    assert.match(lines(launcher).join("\n"), /must name a directory, or :memory:, not an empty string/);
    assert.deepEqual(childPids(launcher), []);
  });

  it("a NUL, which no command line can carry, is refused by the parser; a plain path or :memory: is kept", () => {
    assert.throws(
      () => parseDataDir("data\0/x"),
      (error) => error instanceof UsageError && /control/.test(error.message),
    );
    assert.equal(parseDataDir("./data"), "./data");
    assert.equal(parseDataDir("/var/lib/pilcrow, main"), "/var/lib/pilcrow, main");
    assert.equal(parseDataDir(":memory:"), ":memory:");
  });
});

describe("Deno permissions of a service", () => {
  it("read and write on its --data-dir only; none for :memory: or a process without one", () => {
    const deno = (args: string[]) => runtimeCommand("deno", "x.ts", args).slice(2, -1 - args.length);
    assert.deepEqual(deno(["--data-dir", "/srv/a,b"]), [
      ...DENO_PERMISSIONS.map((flag) => flag.startsWith("--allow-read=") ? `${flag},/srv/a,,b` : flag),
      "--allow-write=/srv/a,,b",
    ]);
    assert.deepEqual(deno(["--data-dir=/srv/x"]).at(-1), "--allow-write=/srv/x");
    assert.deepEqual(deno(["--data-dir", ":memory:"]), DENO_PERMISSIONS);
    assert.deepEqual(deno(["--port", "0"]), DENO_PERMISSIONS);
  });
});
