/**
 * The node list in changes (issue 17, goal 5; docs/protocol.md §2, §3): a real distributor process over real TCP,
 * Pilcrow nodes of version 2 (raw followers, tests/support/list-follower.ts, and lib/mesh's own link), book peers
 * and version-1 peers beside them; and a real gateway fed malformed and misfitting changes by a fake distributor.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { PublishedList } from "../lib/mesh/published-list.ts";
import { linkToRegistry, type RegistryLink } from "../lib/mesh/registry-link.ts";
import type { PacketConnection } from "../lib/tcp/connection.ts";
import { listenPackets, type PacketServer } from "../lib/tcp/server.ts";
import { entryBytes } from "../lib/wire/node-info.ts";
import type { NodeInfo, Packet } from "../lib/wire/packet.ts";
import { type AnyPacket, BookPeer, registration } from "./support/book-peer.ts";
import { answer, type BookService, startBookService } from "./support/book-service.ts";
import { ListFollower } from "./support/list-follower.ts";
import { prng } from "./support/prng.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";

const quiet = createLogger({ name: "test", level: "error" });
const LIST = "/_pilcrow/nodes";
const CHANGES = "/_pilcrow/nodes/changes";

/** The distributor's list now: a new connection is sent it at once. */
async function distributorList(port: number): Promise<NodeInfo[]> {
  const peer = await BookPeer.connect(port);
  try {
    const list = await peer.waitFor((packet) => packet.uri === "/distributes");
    return list.params;
  } finally {
    peer.close();
  }
}

const names = (nodes: NodeInfo[]) => nodes.map((node) => node.name).join(",");

/** A Pilcrow node of version 2 (host left to the distributor: it pings such nodes, the follower answers). */
const pilcrowSelf = (name: string, port: number, urls: string[] = []): NodeInfo => ({ port, name, urls, pilcrow: 2 });

/**
 * A book node's registration stating a host other than the one it connects from, so that the distributor does not
 * try its port (nothing listens there): it stays listed while its connection is open.
 */
const bookRegistration = (name: string, port: number, urls: string[] = []) =>
  registration(name, port, urls, "localhost");

describe("registry changes: what each kind of node is sent", () => {
  let distributor: RunningProcess;
  const followers: ListFollower[] = [];
  const peers: BookPeer[] = [];
  const follow = (self: NodeInfo) => {
    const follower = new ListFollower(distributor.port, self);
    followers.push(follower);
    return follower;
  };
  const peer = async () => {
    const connected = await BookPeer.connect(distributor.port);
    peers.push(connected);
    return connected;
  };
  const lists = (follower: ListFollower, expected: string) =>
    eventually(
      () => names(follower.nodes()) === expected || undefined,
      10_000,
      () => `${follower.self.name} to list ${expected}; it lists ${names(follower.nodes())}`,
    );

  before(async () => {
    distributor = await startProcess("distributor.ts", ["0"]);
  });
  afterEach(async () => {
    for (const follower of followers.splice(0)) follower.close();
    for (const connected of peers.splice(0)) connected.close();
    // What is left registered is gone once a new connection is sent the empty list.
    await eventually(async () => (await distributorList(distributor.port)).length === 0 || undefined, 10_000);
  });
  after(() => stopAll([distributor]));

  it("a Pilcrow node gets the whole list once, with ids, then only changes, each the size of what changed", async () => {
    const follower = follow(pilcrowSelf("follower", 9601));
    await lists(follower, "follower");
    const crowd = await Promise.all(Array.from({ length: 30 }, () => peer()));
    crowd.forEach((member, index) => member.send(bookRegistration(`crowd-${index}`, 9610 + index, ["GET/crowd"])));
    await eventually(() => follower.nodes().length === 31 || undefined, 10_000, "the crowd listed");
    const mark = follower.packets.length;
    const newcomer = await peer();
    newcomer.send(bookRegistration("newcomer", 9650, ["GET/newcomer"]));
    await eventually(() => names(follower.nodes()).endsWith(",newcomer") || undefined, 10_000, "the newcomer");
    newcomer.close();
    await eventually(() => follower.nodes().length === 31 || undefined, 10_000, "the newcomer gone");

    const uris = follower.packets.map((packet) => packet.uri);
    assert.equal(uris[0], "/distributes", "a new connection gets the book's notification");
    assert.equal(uris[1], LIST, "then, once registered, the whole list with ids");
    assert.deepEqual(uris.slice(2).filter((uri) => uri !== CHANGES), [], "then changes only");
    const [join, leave] = follower.packets.slice(mark) as AnyPacket[];
    assert.deepEqual(join.params.added.map(([, node]: [number, NodeInfo]) => node.name), ["newcomer"]);
    assert.deepEqual(leave.params, { seq: join.params.seq + 1, removed: [join.params.added[0][0]] });
    const listBytes = JSON.stringify(await distributorList(distributor.port)).length;
    for (const change of [join, leave]) {
      const bytes = JSON.stringify(change).length;
      assert.ok(bytes < 300 && bytes * 10 < listBytes, `a change of ${bytes} bytes, the list ${listBytes}`);
    }
    assert.deepEqual(follower.nodes(), await distributorList(distributor.port));
    assert.deepEqual(follower.misfits, []);
  });

  it("book nodes and Pilcrow nodes of version 1 still get the book's notification, whole, on every change", async () => {
    const book = await peer();
    book.send(bookRegistration("book", 9701));
    const versionOne = follow({ port: 9702, name: "version-one", urls: [], pilcrow: 1 });
    const versionTwo = follow(pilcrowSelf("version-two", 9703));
    await lists(versionTwo, "book,version-one,version-two");
    const other = await peer();
    other.send(bookRegistration("other", 9704, ["GET/other"]));
    await lists(versionTwo, "book,version-one,version-two,other");
    other.send(bookRegistration("other", 9704, ["GET/other", "POST/other"]));
    await eventually(() => versionTwo.nodes()[3].urls.length === 2 || undefined, 10_000, "the update");
    other.close();
    await lists(versionTwo, "book,version-one,version-two");
    const now = await distributorList(distributor.port);
    await eventually(() => book.packets.length > 0 && names(book.packets.at(-1).params) === names(now) || undefined);
    await lists(versionOne, names(now));

    for (const packets of [book.packets, versionOne.packets]) {
      // As the book's distributor writes it: these four fields, in this order, nothing else.
      for (const packet of packets) {
        const expected = { uri: "/distributes", method: "GET", key: 0, params: packet.params };
        assert.equal(JSON.stringify(packet), JSON.stringify(expected));
      }
      const seen = packets.map((packet) => names(packet.params));
      for (const list of ["book,version-one,version-two,other", "book,version-one,version-two"]) {
        assert.ok(seen.includes(list), `the whole list ${list} was sent: ${seen.join(" | ")}`);
      }
      const updated = packets.find((packet) => packet.params[3]?.urls.length === 2);
      assert.deepEqual(updated?.params.map((node: NodeInfo) => node.name), names(now).split(",").concat("other"));
      assert.deepEqual(packets.at(-1)!.params, now);
    }
    assert.deepEqual(versionOne.misfits, []);
  });

  it("a node that registers again keeps its id and its place; changes in one turn come as one change", async () => {
    const follower = follow(pilcrowSelf("follower", 9801));
    const [a, b, c] = [await peer(), await peer(), await peer()];
    a.send(bookRegistration("a", 9802, ["GET/a"]));
    await lists(follower, "follower,a");
    b.send(bookRegistration("b", 9803, ["GET/b"]));
    await lists(follower, "follower,a,b");
    c.send(bookRegistration("c", 9804, ["GET/c"]));
    await lists(follower, "follower,a,b,c");

    // Three registrations in one write are read in one turn: the node hears of d once, as it is after the third.
    let mark = follower.packets.length;
    const d = await peer();
    d.writeRaw(
      [["GET/d1"], ["GET/d2"], ["GET/d3"]].map((urls) => JSON.stringify(bookRegistration("d", 9805, urls)) + "¶")
        .join(""),
    );
    await eventually(() => follower.nodes().at(-1)?.urls[0] === "GET/d3" || undefined, 10_000, "d listed");
    await delay(300);
    const aboutD = follower.packets.slice(mark).filter((packet) => JSON.stringify(packet).includes("\"name\":\"d\""));
    assert.equal(aboutD.length, 1, `one change about d: ${JSON.stringify(aboutD)}`);
    assert.deepEqual((aboutD[0] as AnyPacket).params.added[0][1].urls, ["GET/d3"]);

    // An update, a leave and a join at once: whatever the turns they fall in, the node's list is the distributor's.
    const aId = idOf(follower, "a");
    mark = follower.packets.length;
    const e = await peer();
    a.send(bookRegistration("a", 9802, ["GET/a", "PUT/a"]));
    b.close();
    e.send(bookRegistration("e", 9806, ["GET/e"]));
    await lists(follower, "follower,a,c,d,e");
    await eventually(() => follower.nodes()[1].urls.length === 2 || undefined, 10_000, "a's update");
    assert.deepEqual(follower.nodes(), await distributorList(distributor.port));
    const changes = follower.packets.slice(mark) as AnyPacket[];
    assert.ok(changes.every((packet) => packet.uri === CHANGES), "changes only");
    assert.ok(changes.length <= 3, `${changes.length} changes for three`);
    const update = changes.find((packet) => packet.params.updated);
    assert.deepEqual(update?.params.updated.map(([id]: [number]) => id), [aId], "a keeps its id");
    assert.deepEqual(follower.misfits, []);
  });

  it("answers a node that asks for the whole list at once, once per version, at the version the next change follows", async () => {
    const follower = follow(pilcrowSelf("follower", 9901));
    await lists(follower, "follower");
    const first = await peer();
    first.send(bookRegistration("first", 9902, ["GET/first"]));
    await lists(follower, "follower,first");
    const seq = (follower.packets.at(-1) as AnyPacket).params.seq;
    const mark = follower.packets.length;
    follower.send({ uri: LIST, method: "GET", key: 0 });
    await eventually(() => follower.packets.length > mark || undefined, 10_000, "the whole list");
    const whole = follower.packets[mark] as AnyPacket;
    assert.equal(whole.uri, LIST);
    assert.equal(whole.params.seq, seq);
    // Once per version: asking again before anything changed gets nothing (a node asks after a change that did not
    // fit, which only a new version brings), so asking cannot make the distributor write the list over and over.
    follower.send({ uri: LIST, method: "GET", key: 0 });
    await delay(300);
    assert.equal(follower.packets.length, mark + 1, "no second list at the same version");
    const second = await peer();
    second.send(bookRegistration("second", 9903, ["GET/second"]));
    await lists(follower, "follower,first,second");
    assert.equal((follower.packets.at(-1) as AnyPacket).params.seq, seq + 1);
    assert.deepEqual(follower.misfits, []);
  });
});

function idOf(follower: ListFollower, name: string): number {
  for (const packet of [...follower.packets].reverse() as AnyPacket[]) {
    const entries: [number, NodeInfo][] = packet.uri === LIST
      ? packet.params.nodes
      : [...(packet.params.added ?? []), ...(packet.params.updated ?? [])];
    const found = entries.find(([, node]) => node.name === name);
    if (found) return found[0];
  }
  throw new Error(`no id for ${name}`);
}

describe("registry changes: a node's list is the distributor's", () => {
  let distributor: RunningProcess | undefined;
  after(() => stopAll([distributor]));

  it("after a random sequence of joins, leaves and updates, and again after the distributor restarts", async () => {
    distributor = await startProcess("distributor.ts", ["0"]);
    const port = distributor.port;
    const seed = Date.now() % 100_000;
    const next = prng(seed);
    const warnings: string[] = [];
    const log = createLogger({
      name: "node",
      format: "json",
      out: { write() {} },
      err: { write: (line: string) => warnings.push(line) },
    });
    let linked: NodeInfo[] = [];
    const link: RegistryLink = linkToRegistry({
      distributor: { hostname: "127.0.0.1", port },
      self: { name: "linked", port: 9999, urls: [] },
      log,
      notified: (nodes) => linked = nodes,
    });
    type Member = { kind: "book"; peer: BookPeer; name: string; port: number } | {
      kind: "pilcrow";
      follower: ListFollower;
      name: string;
      port: number;
    };
    const members: Member[] = [];
    const followers: ListFollower[] = [];
    const books: BookPeer[] = [];
    let count = 0;
    const urls = () =>
      Array.from({ length: 1 + Math.floor(next() * 3) }, (_, i) => `GET/r${Math.floor(next() * 9)}/${i}`);
    try {
      for (let step = 0; step < 80; step++) {
        const roll = next();
        if (members.length < 3 || (roll < 0.45 && members.length < 16)) {
          const name = `n${count}`;
          const nodePort = 10_000 + count++;
          if (next() < 0.5) {
            const peer = await BookPeer.connect(port);
            books.push(peer);
            peer.send(bookRegistration(name, nodePort, urls()));
            members.push({ kind: "book", peer, name, port: nodePort });
          } else {
            const follower = new ListFollower(port, pilcrowSelf(name, nodePort, urls()));
            followers.push(follower);
            members.push({ kind: "pilcrow", follower, name, port: nodePort });
          }
        } else if (roll < 0.75) {
          const [member] = members.splice(Math.floor(next() * members.length), 1);
          if (member.kind === "book") member.peer.close();
          else member.follower.close();
        } else {
          const member = members[Math.floor(next() * members.length)];
          if (member.kind === "book") member.peer.send(bookRegistration(member.name, member.port, urls()));
          else member.follower.register(pilcrowSelf(member.name, member.port, urls()));
        }
        if (next() < 0.6) await delay(Math.floor(next() * 15));
      }
      const inStep = async () => {
        const expected = await distributorList(port);
        const live = followers.filter((follower) =>
          members.some((m) => m.kind === "pilcrow" && m.follower === follower)
        );
        const agree = [linked, ...live.map((follower) => follower.nodes())].every((nodes) => sameList(nodes, expected));
        return agree && expected.length === members.length + 1 ? expected : undefined;
      };
      const what = () =>
        `every node to list what the distributor lists (seed ${seed}); the link lists ${names(linked)}`;
      const expected = await eventually(inStep, 15_000, what);
      assert.equal(names(expected).split(",")[0], "linked");
      for (const follower of followers) assert.deepEqual(follower.misfits, [], `seed ${seed}`);
      assert.deepEqual(warnings.filter((line) => line.includes("asking for the whole list")), [], `seed ${seed}`);

      // A distributor that restarts gives new ids and starts its versions again: every node starts over with it.
      // (Pilcrow nodes register again by themselves; these book peers, unlike the book's services, do not.)
      await distributor.stop();
      for (let index = members.length - 1; index >= 0; index--) {
        if (members[index].kind === "book") members.splice(index, 1);
      }
      distributor = await startProcess("distributor.ts", [String(port)]);
      await eventually(inStep, 15_000, what);
      for (const follower of followers) assert.deepEqual(follower.misfits, [], `seed ${seed}`);
    } finally {
      link.close();
      for (const follower of followers) follower.close();
      for (const peer of books) peer.close();
    }
  });
});

function sameList(nodes: NodeInfo[], expected: NodeInfo[]): boolean {
  try {
    assert.deepEqual(nodes, expected);
    return true;
  } catch {
    return false;
  }
}

describe("registry changes: a node refuses what does not fit", () => {
  let fake: PacketServer;
  let toGate: PacketConnection | undefined;
  const asked: Packet[] = [];
  let registered: Packet | undefined;
  let gate: RunningProcess;
  let who: BookService;

  before(async () => {
    who = await startBookService((packet, socket) => socket.write(answer(packet, { path: packet.uri })));
    fake = await listenPackets({
      hostname: "127.0.0.1",
      port: 0,
      log: quiet,
      connected: (connection) => connection.send({ uri: "/distributes", method: "GET", key: 0, params: [] }),
      packet(packet, connection) {
        if (packet.uri === "/distributes" && packet.method === "POST") {
          toGate = connection;
          registered = packet;
        }
        if (packet.uri === LIST) asked.push(packet);
      },
    });
    gate = await startProcess("gate.ts", ["0", "--distributor", `127.0.0.1:${fake.address.port}`]);
    await eventually(() => toGate, 10_000, "the gateway's registration");
  });
  after(async () => {
    await stopAll([gate]);
    await fake.close();
    await who.close();
  });

  const whoNode = (urls: string[]): NodeInfo => ({ port: who.port, name: "who", urls, host: "127.0.0.1" });
  const gateNode: NodeInfo = { port: 8000, name: "gate", urls: [], host: "127.0.0.1", pilcrow: 2 };
  const tell = (uri: string, params: unknown) => toGate!.send({ uri, method: "GET", key: 0, params });
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${gate.port}${path}`);
    return { status: response.status, body: await response.json() };
  };
  const answers = (path: string) =>
    eventually(async () => (await get(path)).status === 200 || undefined, 10_000, `GET ${path} answered`);
  const warned = (event: string, from: number) =>
    gate.waitFor((entry) => entry.level === "warn" && entry.event === event, 10_000, from);

  it("logs malformed changes, asks once for the whole list, and routes by the list that comes", async () => {
    assert.equal((registered?.params as NodeInfo).pilcrow, 2, "the gateway registers as a node of version 2");
    tell(LIST, { seq: 1, nodes: [[1, gateNode]] });
    const from = gate.entries.length;
    const malformed: unknown[] = [
      "nope",
      { seq: "2" },
      { seq: -1 },
      { seq: 2, added: [[0, whoNode(["GET/who"])]] },
      { seq: 2, removed: ["x"] },
      { seq: 2, added: [[2, whoNode(["GET/who"]), "more"]] },
      { seq: 2, updated: {} },
    ];
    for (const params of malformed) tell(CHANGES, params);
    const event = "invalid node changes from distributor; asking for the whole list";
    await eventually(
      () => gate.entries.slice(from).filter((entry) => entry.event === event).length === malformed.length || undefined,
      10_000,
      () => `a warning per malformed change; the log: ${JSON.stringify(gate.entries.slice(from))}`,
    );
    const problems = gate.entries.slice(from).filter((entry) => entry.event === event).map((entry) => entry.details[0]);
    assert.ok(problems.every((problem) => typeof problem === "string" && problem.length > 0), String(problems));
    assert.equal(asked.length, 1, "asked once while the whole list is on its way");
    assert.ok(gate.running);

    tell(LIST, { seq: 5, nodes: [[1, gateNode], [3, whoNode(["GET/who"])]] });
    await answers("/who");
    assert.equal((await get("/who")).body.path, "/who");
  });

  it("a change that skips a version or names an id it does not hold is not applied: it asks again", async () => {
    let from = gate.entries.length;
    tell(CHANGES, { seq: 7, removed: [3] });
    const gap = await warned("node changes do not fit this node's list; asking for the whole list", from);
    assert.match(String(gap.details[0]), /version 7 after 5/);
    await eventually(() => asked.length === 2 || undefined, 10_000, "asked again");
    assert.equal((await get("/who")).status, 200, "the list it had is kept meanwhile");

    tell(LIST, { seq: 7, nodes: [[1, gateNode], [3, whoNode(["GET/who"])]] });
    tell(CHANGES, { seq: 8, updated: [[3, whoNode(["GET/who", "GET/who/more"])]] });
    await answers("/who/more");

    from = gate.entries.length;
    tell(CHANGES, { seq: 9, removed: [99] });
    const unknown = await warned("node changes do not fit this node's list; asking for the whole list", from);
    assert.match(String(unknown.details[0]), /removes id 99/);
    await eventually(() => asked.length === 3 || undefined, 10_000, "asked again");
    tell(CHANGES, { seq: 10, removed: [3] });
    await delay(300);
    assert.equal((await get("/who/more")).status, 200, "no change is applied until the whole list comes");

    tell(LIST, { seq: 10, nodes: [[1, gateNode]] });
    await eventually(async () => (await get("/who")).status !== 200 || undefined, 10_000, "who gone");
    assert.ok(gate.running, "the gateway is still running");
  });
});

describe("registry changes: the whole list when a change would be larger", () => {
  it("a burst that replaces the list is sent as the list", () => {
    const list = new PublishedList();
    const node = (name: string): NodeInfo => ({ port: 1, name, urls: ["GET/x"], host: "127.0.0.1", pilcrow: 2 });
    for (const id of [1, 2, 3]) list.set(id, node(`n${id}`), entryBytes(node(`n${id}`)));
    assert.match(list.publish()!.frame, /^\{"uri":"\/_pilcrow\/nodes\/changes"/);
    for (const id of [1, 2, 3]) list.delete(id);
    list.set(4, node("n4"), entryBytes(node("n4")));
    const { frame } = list.publish()!;
    assert.equal(frame, list.wholeFrame());
    assert.deepEqual(JSON.parse(frame.slice(0, -1)).params, { seq: 2, nodes: [[4, node("n4")]] });
  });
});
