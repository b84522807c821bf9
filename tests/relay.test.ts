/**
 * The relay attack of issue 11, with PILCROW_SECRET on every real process: a process that does not know the
 * secret takes the distributor's port while the distributor is down and passes each node's handshake through
 * to a real service, hoping to be taken for the distributor; if that worked it would publish a node list
 * putting members at a port of its own, relay the gateway's handshake to the real members there, and read
 * every login in clear. A handshake bound to who is dialled, in what role and at which port makes each
 * forwarded handshake fail on both sides.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { createLogger, type Logger } from "../lib/log.ts";
import { InstancePool } from "../lib/mesh/pool.ts";
import { framesOf } from "./support/hostile-peers.ts";
import { delay, eventually, type LogEntry, type RunningProcess, startProcess } from "./support/processes.ts";
import { call, type Json, startSystem, type System } from "./support/system.ts";

const SECRET = "relay-test-secret-5d81e0b7";
const PASSWORD = "pw-relayed-9Qx2";
const WELCOME_URI = "/_pilcrow/welcome";
const HOST = "127.0.0.1";
const MEMBERS_URLS = ["POST/members", "GET/members", "DELETE/members"];

/** What one relay saw, both ways, over all its connections. */
class Capture {
  toServer: Buffer[] = [];
  toClient: Buffer[] = [];
  connections = 0;

  framesToServer(): Json[] {
    return framesOf(Buffer.concat(this.toServer)) as Json[];
  }

  framesToClient(): Json[] {
    return framesOf(Buffer.concat(this.toClient)) as Json[];
  }

  /** How many times `password` crossed this relay towards the server. */
  passwordsSeen(password: string): number {
    return Buffer.concat(this.toServer).toString("latin1").split(password).length - 1;
  }
}

/** Connects to a real peer; resolves undefined when it cannot be reached. */
function dial(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once("connect", () => resolve(socket));
    socket.once("error", () => resolve(undefined));
  });
}

function listen(port: number, accept: (socket: Socket) => void): Promise<Server> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    accept(socket);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, HOST, () => resolve(server));
  });
}

function closeServer(server: Server | undefined, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server ? server.close(() => resolve()) : resolve());
}

/**
 * Passes bytes both ways between `client` and a real peer at `upstreamPort`, recording them. `welcomed` runs
 * when the peer's welcome has reached the client (the relay then stops forwarding and speaks for itself).
 */
async function pipeThrough(
  client: Socket,
  upstreamPort: number,
  capture: Capture,
  sockets: Set<Socket>,
  welcomed?: (client: Socket) => void,
): Promise<void> {
  const upstream = await dial(upstreamPort);
  if (!upstream) return void client.destroy();
  sockets.add(upstream);
  upstream.on("error", () => {});
  let relaying = true;
  client.on("data", (chunk: Buffer) => {
    capture.toServer.push(chunk);
    if (relaying) upstream.write(chunk);
  });
  upstream.on("data", (chunk: Buffer) => {
    capture.toClient.push(chunk);
    client.write(chunk);
    if (welcomed && chunk.includes(WELCOME_URI)) {
      relaying = false;
      upstream.destroy();
      welcomed(client);
    }
  });
  upstream.on("close", () => relaying && client.destroy());
  client.on("close", () => upstream.destroy());
}

/**
 * The attacker: on the distributor's port it relays each node's handshake to a real service (round robin);
 * a node that accepts it is sent a node list putting members at the attacker's members port, where the
 * gateway's handshake is relayed to the real members and everything after it is read.
 */
class Attacker {
  readonly asDistributor = new Capture();
  readonly asMembers = new Capture();
  #sockets = new Set<Socket>();
  #distributor: Server | undefined;
  #members: Server | undefined;
  #next = 0;

  async start(distributorPort: number, servicePorts: number[], membersPort: number): Promise<void> {
    this.#members = await listen(0, (socket) => {
      this.#sockets.add(socket);
      this.asMembers.connections++;
      void pipeThrough(socket, membersPort, this.asMembers, this.#sockets);
    });
    const ownMembersPort = (this.#members.address() as { port: number }).port;
    const forgedList = {
      uri: "/distributes",
      method: "GET",
      key: 0,
      params: [{ port: ownMembersPort, name: "members", urls: MEMBERS_URLS, host: HOST }],
    };
    this.#distributor = await listen(distributorPort, (socket) => {
      this.#sockets.add(socket);
      this.asDistributor.connections++;
      const target = servicePorts[this.#next++ % servicePorts.length];
      void pipeThrough(socket, target, this.asDistributor, this.#sockets, (node) => {
        node.write(JSON.stringify(forgedList) + "¶");
      });
    });
  }

  /** Registrations the nodes sent, believing the attacker was the distributor. */
  registrations(): Json[] {
    return this.asDistributor.framesToServer().filter((packet) =>
      packet?.uri === "/distributes" && packet.method === "POST"
    );
  }

  welcomesPassed(): number {
    return this.asDistributor.framesToClient().filter((packet) => packet?.uri === WELCOME_URI).length;
  }

  async stop(): Promise<void> {
    await Promise.all([
      closeServer(this.#distributor, this.#sockets),
      closeServer(this.#members, this.#sockets),
    ]);
  }
}

const isHandshakeFailure = (entry: LogEntry) => entry.level === "warn" && /handshake/.test(entry.event);

describe("a relay without the secret", () => {
  let system: System;
  let attacker: Attacker;
  let restarted: RunningProcess | undefined;
  let logins: { status: number; errorcode: unknown }[] = [];

  before(async () => {
    system = await startSystem({ env: { PILCROW_SECRET: SECRET } });
    const members = system.services.get("members")!;
    const created = await call(system, "POST", "/members", { username: "relayed", password: PASSWORD });
    assert.equal(created.body.errorcode, 0);
    const distributorPort = system.distributor.port;
    await system.distributor.stop();
    attacker = new Attacker();
    const servicePorts = [...system.services.values()].map((service) => service.port);
    await attacker.start(distributorPort, servicePorts, members.port);
    // Every node (three services and the gateway) dials the attacker within its reconnect back-off (≤ 3 s);
    // a node that took the attacker for the distributor would have its forged list a moment later.
    await eventually(() => attacker.asDistributor.connections >= 4 ? true : undefined, 15_000, "4 dials");
    await delay(1500);
    for (let i = 0; i < 20; i++) {
      const login = await call(system, "GET", `/members?username=relayed&password=${PASSWORD}`);
      logins.push({ status: login.status, errorcode: login.body.errorcode });
      await delay(50);
    }
  });

  after(async () => {
    await attacker?.stop();
    await Promise.all([system?.stop(), restarted?.stop()]);
  });

  it("is taken for the distributor by no node: no welcome passes, no registration reaches it", () => {
    assert.equal(attacker.welcomesPassed(), 0, "welcomes relayed back to nodes");
    assert.deepEqual(attacker.registrations(), [], "registrations sent to the attacker");
  });

  it("makes every node log a handshake failure, and the services name what was dialled", async () => {
    for (const node of [system.gate, ...system.services.values()]) {
      await node.waitFor(isHandshakeFailure, 5000);
    }
    const refusals = [...system.services.values()].flatMap((service) =>
      service.entries.filter((entry) => entry.event === "authentication failed")
    );
    assert.ok(refusals.length >= 4, `${refusals.length} refusals`);
    assert.ok(
      refusals.every((entry) => JSON.stringify(entry.details).includes("distributor")),
      JSON.stringify(refusals.map((entry) => entry.details)),
    );
  });

  it("sees no password: every login went straight to the real members and succeeded", () => {
    assert.equal(attacker.asMembers.passwordsSeen(PASSWORD), 0, "logins the attacker read");
    assert.equal(attacker.asDistributor.passwordsSeen(PASSWORD), 0);
    assert.equal(attacker.asMembers.connections, 0, "connections to the attacker's members port");
    assert.deepEqual(logins, Array(20).fill({ status: 200, errorcode: 0 }));
  });

  it("leaves nothing behind: a distributor back on its port gets every node registered again", async () => {
    const port = system.distributor.port;
    await attacker.stop();
    restarted = await startProcess("distributor.ts", [String(port)], { env: { PILCROW_SECRET: SECRET } });
    await restarted.waitFor(() => restarted!.entries.filter((entry) => entry.event === "onRead").length >= 4, 10_000);
  });
});

/** The gateway's own instance pool, told of members at the relay's port, tries to connect there. */
describe("a relay presenting members at another port", () => {
  let members: RunningProcess;
  let distributor: RunningProcess;
  const sockets = new Set<Socket>();
  let relay: Server | undefined;
  const capture = new Capture();
  const warnings: string[] = [];
  const log: Logger = {
    ...createLogger({ name: "pool", level: "error" }),
    warn: (event, ...details) => void warnings.push(`${event} ${JSON.stringify(details)}`),
  };

  before(async () => {
    const env = { PILCROW_SECRET: SECRET };
    distributor = await startProcess("distributor.ts", ["0"], { env });
    members = await startProcess("members.ts", ["0", "--distributor", `${HOST}:${distributor.port}`], { env });
    relay = await listen(0, (socket) => {
      sockets.add(socket);
      capture.connections++;
      void pipeThrough(socket, members.port, capture, sockets);
    });
  });

  after(async () => {
    await closeServer(relay, sockets);
    await Promise.all([members?.stop(), distributor?.stop()]);
  });

  function poolAt(port: number): InstancePool {
    const pool = new InstancePool({ log, secret: SECRET, heartbeatMs: 0 });
    pool.update([{ name: "members", port, host: HOST, urls: MEMBERS_URLS }]);
    return pool;
  }

  it("connects to the real members at its own port (the control)", async () => {
    const pool = poolAt(members.port);
    try {
      await eventually(() => typeof pool.pick("GET/members") === "object" ? true : undefined, 5000, "a connection");
    } finally {
      pool.close();
    }
  });

  it("is refused: the pool never connects through it and members says what was dialled", async () => {
    const relayPort = (relay!.address() as { port: number }).port;
    const from = members.entries.length;
    const pool = poolAt(relayPort);
    try {
      await members.waitFor((entry) => entry.event === "authentication failed", 5000, from);
      await delay(500);
      assert.equal(typeof pool.pick("GET/members"), "symbol", "no live instance through the relay");
      assert.equal(pool.status().instances[0]?.connected, false);
    } finally {
      pool.close();
    }
    assert.ok(capture.connections >= 1);
    assert.equal(capture.framesToClient().filter((packet) => packet?.uri === WELCOME_URI).length, 0);
    const refusal = members.entries.slice(from).find((entry) => entry.event === "authentication failed")!;
    assert.match(JSON.stringify(refusal.details), new RegExp(String(relayPort)));
    assert.ok(warnings.some((line) => /handshake/.test(line)), warnings.join("\n"));
  });
});
