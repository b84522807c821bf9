/**
 * The launcher (services/up.ts) as a black box: the whole system as real processes on free ports, the book's API
 * client run through it, a service killed and brought back, everything stopped with no process left behind.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import process from "node:process";
import { after, describe, it } from "node:test";
import { UsageError } from "../lib/config.ts";
import { parseLaunchPlan } from "../lib/launcher/plan.ts";
import { READY_PREFIX, readyAddressIn, readyLine } from "../lib/launcher/readiness.ts";
import { runtimeName } from "../lib/runtime/mod.ts";
import {
  childEntries,
  childPids,
  closed,
  gatewayConnections,
  isAlive,
  lines,
  listenPorts,
  runApiClient,
  startLauncher,
  stopLauncher,
  waitForLine,
} from "./support/launcher.ts";
import { eventually, ROOT, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import type { Json } from "./support/system.ts";

/** Whole systems start here; Bun's default limit is 5 s a test. */
const SLOW = { timeout: 120_000 };
const UP = /^Pilcrow is up: gateway on http:\/\/127\.0\.0\.1:(\d+)$/;

describe("launcher", () => {
  let launcher: RunningProcess;
  let gatewayPort = 0;
  after(() => stopLauncher(launcher));

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const response = await fetch(`http://127.0.0.1:${gatewayPort}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };

  it("starts every process on a free port, the distributor first, and says where the gateway is", SLOW, async () => {
    launcher = await startLauncher(["--ports", "free"]);
    gatewayPort = Number((await waitForLine(launcher, UP))[1]);
    assert.deepEqual(listenPorts(launcher, "gate"), [gatewayPort]);
    const lineOf = (pattern: RegExp) => lines(launcher).findIndex((line) => pattern.test(line));
    const distributorListens = lineOf(/^\[distributor\] \{.*"event":"listen"/);
    assert.ok(distributorListens > lineOf(/^distributor started \(pid \d+, any free port\)$/));
    for (const name of ["gate", "goods", "members", "purchases"]) {
      assert.ok(lineOf(new RegExp(`^${name} started \\(pid \\d+, any free port\\)$`)) > distributorListens, name);
      assert.equal(listenPorts(launcher, name).length, 1, `${name} listens`);
    }
    for (const service of ["goods", "members", "purchases"]) {
      await eventually(() => gatewayConnections(launcher, service) === 1 || undefined, 30_000, `gate → ${service}`);
    }
  });

  it(
    "serves the book's API client: the eight answers of docs/protocol.md §6 in order, printed as the book prints them",
    SLOW,
    async () => {
      const { code, output } = await runApiClient(gatewayPort);
      assert.equal(code, 0, output.join("\n"));
      const banner = (section: string) => `${"=".repeat(30)} ${section} ${"=".repeat(30)}`;
      assert.deepEqual(output.slice(0, 8), [
        banner("members"),
        "{",
        "  host: '127.0.0.1',",
        `  port: ${gatewayPort},`,
        "  headers: { 'Content-Type': 'application/json' },",
        "  method: 'DELETE',",
        "  path: '/members?username=test_account'",
        `} {"key":0,"errorcode":0,"errormessage":"success"}`,
      ]);
      assert.deepEqual(output.filter((line) => line.startsWith("=")), ["members", "goods", "purchases"].map(banner));
      const bodies = output.filter((line) => line.startsWith("} ")).map((line) => JSON.parse(line.slice(2)));
      const success = (key: number) => ({ key, errorcode: 0, errormessage: "success" });
      assert.deepEqual(bodies.slice(0, 7), [
        success(0),
        success(1),
        { ...success(2), userid: 1 },
        success(3),
        {
          ...success(4),
          results: [{ id: 1, name: "test Goods", category: "tests", price: 1000, description: "test" }],
        },
        success(5),
        success(6),
      ]);
      const { results, ...rest } = bodies[7];
      assert.deepEqual(rest, success(7));
      assert.deepEqual(results.map(({ id, goodsid }: Json) => ({ id, goodsid })), [{ id: 1, goodsid: 1 }]);
      assert.equal(bodies.length, 8);
      assert.equal(output.at(-1), "done");
    },
  );

  it("restarts a service killed with SIGKILL, on the same port, and the gateway routes to it again", SLOW, async () => {
    const [pid] = childPids(launcher, "goods");
    const from = launcher.output.length;
    process.kill(pid, "SIGKILL");
    await waitForLine(launcher, /^goods exited \(signal SIGKILL\) after [\d.]+ s; restarting in \d+ ms$/, from);
    const [, newPid, port] = await waitForLine(launcher, /^goods started \(pid (\d+), port (\d+)\)$/, from);
    assert.notEqual(Number(newPid), pid);
    await eventually(() => listenPorts(launcher, "goods").length === 2 || undefined, 30_000, "goods listens again");
    assert.deepEqual(listenPorts(launcher, "goods"), [Number(port), Number(port)]);
    await eventually(() => gatewayConnections(launcher, "goods", from) === 1 || undefined, 30_000, "gate → goods");

    const goods = { name: "after restart", category: "tests", price: 1, description: "back" };
    const posted = await call("POST", "/goods", goods);
    assert.deepEqual([posted.status, posted.body.errorcode], [200, 0]);
    const listed = await call("GET", "/goods");
    assert.deepEqual([listed.status, listed.body.errorcode], [200, 0]);
    assert.ok(listed.body.results.some((row: Json) => row.name === goods.name), JSON.stringify(listed.body));
  });

  it("on SIGTERM stops every child, the distributor last, and exits 0", SLOW, async () => {
    const pids = childPids(launcher);
    assert.equal(pids.length, 6, "five children and the restarted goods");
    const exitCode = closed(launcher);
    launcher.signal("SIGTERM");
    assert.equal(await exitCode, 0);
    assert.deepEqual(pids.filter(isAlive), [], "no child left running");
    const stoppingLine = (name: string) =>
      lines(launcher).findIndex((line) => line.startsWith(`[${name}] {`) && line.includes(`"event":"stopping"`));
    const distributorStopped = stoppingLine("distributor");
    assert.ok(distributorStopped > 0, "the distributor stopped on request");
    for (const name of ["gate", "goods", "members", "purchases"]) {
      const stopped = stoppingLine(name);
      assert.ok(stopped > 0 && stopped < distributorStopped, `${name} stopped before the distributor`);
    }
  });
});

describe("launcher options", () => {
  it("--instances goods=2 runs a second goods instance, on its own port, that the gateway uses", SLOW, async () => {
    const launcher = await startLauncher(["--ports", "free", "--instances", "goods=2"]);
    try {
      await waitForLine(launcher, UP);
      const [first] = listenPorts(launcher, "goods");
      const [second] = listenPorts(launcher, "goods#2");
      assert.ok(first > 0 && second > 0 && first !== second, `ports ${first} and ${second}`);
      await eventually(() => gatewayConnections(launcher, "goods") === 2 || undefined, 30_000, "gate → 2 goods");
    } finally {
      await stopLauncher(launcher);
    }
  });

  it("exits 2 with a message on a bad option", SLOW, async () => {
    const launcher = await startLauncher(["--instances", "goods=x"]);
    assert.equal(await closed(launcher), 2);
    assert.match(lines(launcher).join("\n"), /number of goods instances must be a positive whole number, not x/);
    assert.deepEqual(childPids(launcher), []);
  });

  it("gives up and exits 1 when the distributor cannot listen, after 3 tries", SLOW, async () => {
    const squatter = await startProcess("distributor.ts", ["0"]);
    try {
      const launcher = await startLauncher(["--ports", "free", "--distributor-port", String(squatter.port)]);
      assert.equal(await closed(launcher), 1);
      assert.match(lines(launcher).join("\n"), /giving up: distributor exited before listening 3 times in a row/);
      assert.equal(childPids(launcher, "distributor").length, 3);
      assert.deepEqual(childPids(launcher).filter(isAlive), []);
    } finally {
      await stopAll([squatter]);
    }
  });
});

describe("readiness and restarts", () => {
  it("takes no forged readiness line: a service that prints them and never listens times out", SLOW, async () => {
    const service = `${ROOT}tests/support/forged-ready-service.ts`;
    const launcher = await startLauncher(["--ports", "free", "--ready-timeout", "15000", "--service", service]);
    try {
      assert.equal(await closed(launcher), 1);
      const output = lines(launcher);
      assert.ok(!output.some((line) => UP.test(line)), "the system is not announced as up");
      assert.match(output.join("\n"), /giving up: forged-ready-service was not ready within 15000 ms/);
      // Each forged line is shown as the service's own output, not swallowed.
      const forged = childEntries(launcher, "forged-ready-service").filter((entry) => entry.event === "output")
        .map((entry) => String(entry.details[0]));
      assert.equal(forged.filter((line) => line.startsWith(READY_PREFIX)).length, 4, forged.join("\n"));
      assert.deepEqual(childPids(launcher).filter(isAlive), []);
    } finally {
      await stopLauncher(launcher);
    }
  });

  it(
    "keeps restarting, with back-off, a service that fails on every restart after it had been running",
    SLOW,
    async () => {
      const launcher = await startLauncher([
        "--ports",
        "free",
        "--service",
        `${ROOT}tests/support/once-service.ts`,
      ]);
      try {
        await waitForLine(launcher, UP);
        const [pid] = childPids(launcher, "once-service");
        const from = launcher.output.length;
        process.kill(pid, "SIGKILL");
        const failures = () =>
          lines(launcher).slice(from).flatMap((line) => {
            const match = /^once-service exited \(exit code 3\) before listening; restarting in (\d+) ms$/.exec(line);
            return match ? [Number(match[1])] : [];
          });
        // Three in a row made the launcher give up on everything before; four show it does not.
        await eventually(() => failures().length >= 4 || undefined, 60_000, "four failed restarts");
        assert.deepEqual(failures().slice(0, 3), [500, 1000, 2000], "the back-off doubles");
        assert.ok(launcher.running, "the launcher still runs");
        assert.ok(!lines(launcher).some((line) => /giving up/.test(line)), lines(launcher).join("\n"));
      } finally {
        await stopLauncher(launcher);
      }
    },
  );
});

describe("readiness line", () => {
  const address = { address: "127.0.0.1", family: "IPv4" as const, port: 9010 };
  const nonce = "2f1c7f0e-0d57-4d36-9a4e-1b0c5f0e8d11";

  it("is read back with the nonce of the start it was given", () => {
    assert.deepEqual(readyAddressIn(readyLine(nonce, address).trimEnd(), nonce), address);
    const v6 = { address: "::1", family: "IPv6" as const, port: 1 };
    assert.deepEqual(readyAddressIn(readyLine(nonce, v6).trimEnd(), nonce), v6);
    // A service on the NATS mesh listens on no port: it is ready at its subject.
    const onNats = { subject: "pilcrow.i.2f1c7f0e-0d57" };
    assert.deepEqual(readyAddressIn(readyLine(nonce, onNats).trimEnd(), nonce), onNats);
  });

  it("refuses a forged, foreign or malformed line", () => {
    const json = JSON.stringify(address);
    for (
      const line of [
        `${READY_PREFIX}${json}`,
        `${READY_PREFIX}another-nonce ${json}`,
        `${READY_PREFIX}${nonce}${json}`,
        `${READY_PREFIX}${nonce} `,
        `${READY_PREFIX}${nonce} {"address":`,
        `${READY_PREFIX}${nonce} null`,
        `${READY_PREFIX}${nonce} []`,
        `${READY_PREFIX}${nonce} "127.0.0.1:9010"`,
        `${READY_PREFIX}${nonce} {"address":"127.0.0.1","family":"IPv5","port":9010}`,
        `${READY_PREFIX}${nonce} {"address":1,"family":"IPv4","port":9010}`,
        `${READY_PREFIX}${nonce} {"address":"127.0.0.1","family":"IPv4","port":"9010"}`,
        `${READY_PREFIX}${nonce} {"address":"127.0.0.1","family":"IPv4","port":0}`,
        `${READY_PREFIX}${nonce} {"address":"127.0.0.1","family":"IPv4","port":70000}`,
        `${READY_PREFIX}${nonce} {"address":"127.0.0.1","family":"IPv4","port":1.5}`,
        `${READY_PREFIX}${nonce} {"subject":""}`,
        `${READY_PREFIX}${nonce} {"subject":"a b"}`,
        `${READY_PREFIX}${nonce} {"subject":1}`,
        `${READY_PREFIX}${nonce} {"subject":"a","port":9010}`,
        ` ${READY_PREFIX}${nonce} ${json}`,
        `[goods] ${READY_PREFIX}${nonce} ${json}`,
        "",
      ]
    ) {
      assert.equal(readyAddressIn(line, nonce), undefined, line);
    }
    assert.equal(readyAddressIn(`${READY_PREFIX} ${json}`, ""), undefined, "an empty nonce proves nothing");
  });
});

describe("launch plan", () => {
  const ports = (args: string[]) => {
    const plan = parseLaunchPlan(args, "node");
    return [plan.distributor, ...plan.nodes].map(({ name, port }) => `${name}:${port}`);
  };

  it("runs docs/protocol.md §1's processes on their ports, on the launcher's runtime unless told otherwise", () => {
    assert.deepEqual(ports([]), ["distributor:9000", "gate:8000", "goods:9010", "members:9020", "purchases:9030"]);
    assert.equal(parseLaunchPlan([], "deno").runtime, "deno");
    assert.equal(parseLaunchPlan(["--runtime", "bun"], "deno").runtime, "bun");
    assert.equal(parseLaunchPlan(["--log", "json"], "node").logFormat, "json");
  });

  it("gives extra instances the next ports, from repeated or comma-separated --instances", () => {
    assert.deepEqual(ports(["--instances", "goods=2,members=3", "--instances", "purchases=2", "--gate-port", "80"]), [
      "distributor:9000",
      "gate:80",
      "goods:9010",
      "goods#2:9011",
      "members:9020",
      "members#2:9021",
      "members#3:9022",
      "purchases:9030",
      "purchases#2:9031",
    ]);
  });

  it("--ports free puts every process on port 0, except those given a port", () => {
    assert.deepEqual(ports(["--ports", "free", "--instances", "goods=2", "--distributor-port", "9100"]), [
      "distributor:9100",
      "gate:0",
      "goods:0",
      "goods#2:0",
      "members:0",
      "purchases:0",
    ]);
  });

  it("refuses what cannot run, saying why", () => {
    const refused = (args: string[], message: RegExp) =>
      assert.throws(
        () => parseLaunchPlan(args, "node"),
        (error: Error) => error instanceof UsageError && message.test(error.message),
      );
    refused(["--instances", "goods=11"], /goods#11 and members would both listen on port 9020/);
    refused(["--gate-port", "9010"], /gate and goods would both listen on port 9010/);
    refused(["--instances", "goods=0"], /positive whole number, not 0/);
    refused(["--instances", "gate=2"], /SERVICE one of goods, members, purchases, not gate=2/);
    refused(["--instances", "goods"], /not goods$/);
    refused(["--instances", "goods=2", "--instances", "goods=3"], /goods twice/);
    refused(["--ports", "any"], /--ports takes only "free"/);
    refused(["--runtime", "java"], /node, bun, deno, not java/);
    refused(["--distributor-port", "70000"], /--distributor-port must be a number from 0 to 65535/);
    refused(["--log", "xml"], /"xml"/);
    refused(["9000"], /positional/);
    refused(["--ready-timeout", "2147483648"], /--ready-timeout must be at most 3600000 ms \(1 h\), not 2147483648/);
    refused(["--ready-timeout", "0"], /positive whole number, not 0/);
  });
});

describe("launcher on another runtime", () => {
  let launcher: RunningProcess | undefined;
  after(() => stopLauncher(launcher));

  it("starts its children on the runtime --runtime names, and they serve the API client", SLOW, async () => {
    const own = runtimeName;
    const other = own === "node" ? "bun" : own === "bun" ? "deno" : "node";
    launcher = await startLauncher(["--ports", "free", "--runtime", other]);
    const gatewayPort = Number((await waitForLine(launcher, UP))[1]);
    for (const service of ["goods", "members", "purchases"]) {
      await eventually(() => gatewayConnections(launcher!, service) === 1 || undefined, 30_000, `gate → ${service}`);
    }
    const client = await runApiClient(gatewayPort);
    assert.equal(client.code, 0, client.output.join("\n"));
    const binary = { node: /\bnode\0/, bun: /\bbun(\.exe)?\0/, deno: /\bdeno\0/ }[other];
    for (const pid of childPids(launcher)) {
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      assert.match(commandLine, binary, `child ${pid} runs on ${other}: ${commandLine.replaceAll("\0", " ")}`);
    }
  });
});
