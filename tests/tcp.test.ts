/**
 * The TCP layer on real sockets: every TCP implementation this runtime offers (its native API and node:net)
 * gets the same checks — the adapter contract (bytes both ways, one `close` per side, refusal, back-pressure),
 * then PacketConnection (coalesced writes, the bound on a peer that does not read) and PacketClient
 * (keyed requests, timeouts, failing in-flight requests at once, reconnecting by itself).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { tcpImplementation } from "../lib/runtime/mod.ts";
import type { TcpHandlers, TcpImplementation, TcpListener, TcpSocket } from "../lib/runtime/types.ts";
import { PacketClient } from "../lib/tcp/client.ts";
import { type ConnectionEvents, FLUSH_AT_CHARS, PacketConnection } from "../lib/tcp/connection.ts";
import { AnswerTooLargeError, ConnectionLostError, NotConnectedError, RequestTimeoutError } from "../lib/tcp/errors.ts";
import { listenPackets, type PacketServer, type PacketServerOptions } from "../lib/tcp/server.ts";
import { FrameDecoder, type FrameProblem, frameText } from "../lib/wire/codec.ts";
import type { Packet } from "../lib/wire/packet.ts";

const HOST = "127.0.0.1";
const MiB = 1024 * 1024;
const quiet = createLogger({ name: "test", level: "error" });
const text = new TextDecoder();
const utf8 = new TextEncoder();

/** On Node "native" is node:net too: each distinct implementation is tested once. */
const implementations = [
  ...new Map([tcpImplementation("native"), tcpImplementation("node")].map((tcp) => [tcp.name, tcp])).values(),
];

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `condition` holds; fails with `what` after `timeoutMs`. Leaves no timer behind. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

/** What one raw socket reported, copied (runtimes may reuse `data` chunks). */
class Recorder {
  chunks: Uint8Array[] = [];
  bytes = 0;
  drains = 0;
  closes = 0;
  socket: TcpSocket | undefined;
  onData: ((chunk: Uint8Array) => void) | undefined;

  constructor(private readonly pauseAtOnce = false) {}

  /** The `open` callback for `listen` or `connect`. */
  readonly open = (socket: TcpSocket): TcpHandlers => {
    this.socket = socket;
    if (this.pauseAtOnce) socket.pause();
    return {
      data: (chunk) => {
        const copy = chunk.slice();
        this.chunks.push(copy);
        this.bytes += copy.byteLength;
        this.onData?.(copy);
      },
      drain: () => void this.drains++,
      close: () => void this.closes++,
    };
  };

  get closed(): boolean {
    return this.closes > 0;
  }

  received(): Uint8Array {
    const all = new Uint8Array(this.bytes);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return all;
  }

  /** Destroys the socket if still open and waits for its `close`. */
  async dispose(): Promise<void> {
    if (!this.socket) return;
    if (!this.closed) this.socket.destroy();
    await waitUntil(() => this.closed, "the socket to close");
  }
}

/** Runs cleanups in reverse order of registration, all of them even when one fails. */
class Cleanup {
  #steps: (() => unknown)[] = [];
  add(step: () => unknown): void {
    this.#steps.push(step);
  }
  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.#steps.reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

async function withCleanup(body: (cleanup: Cleanup) => Promise<void>): Promise<void> {
  const cleanup = new Cleanup();
  try {
    await body(cleanup);
  } finally {
    await cleanup.run();
  }
}

/** A listener whose accepted sockets are each recorded (paused at once when asked). */
async function rawServer(tcp: TcpImplementation, cleanup: Cleanup, pauseAtOnce = false) {
  const accepted: Recorder[] = [];
  const listener = await tcp.listen({ hostname: HOST, port: 0 }, (socket) => {
    const recorder = new Recorder(pauseAtOnce);
    accepted.push(recorder);
    return recorder.open(socket);
  });
  cleanup.add(async () => {
    for (const recorder of accepted) await recorder.dispose();
    await listener.close();
  });
  const nextAccepted = async (index = 0): Promise<Recorder> => {
    await waitUntil(() => accepted.length > index, "the server to accept");
    return accepted[index];
  };
  return { listener, nextAccepted };
}

async function rawClient(tcp: TcpImplementation, port: number, cleanup: Cleanup, pauseAtOnce = false) {
  const recorder = new Recorder(pauseAtOnce);
  await tcp.connect({ hostname: HOST, port, timeoutMs: 2000 }, recorder.open);
  cleanup.add(() => recorder.dispose());
  return recorder;
}

/** A port nothing listens on: one the system just handed out and took back. */
async function freePort(tcp: TcpImplementation): Promise<number> {
  const listener: TcpListener = await tcp.listen({ hostname: HOST, port: 0 }, () => ({
    data() {},
    drain() {},
    close() {},
  }));
  const { port } = listener.address;
  await listener.close();
  return port;
}

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** A TcpSocket that forwards everything to a real one and counts the `write` calls. */
function countingWrites(socket: TcpSocket): { socket: TcpSocket; writes: () => number } {
  let writes = 0;
  const counted: TcpSocket = {
    get remoteAddress() {
      return socket.remoteAddress;
    },
    get remotePort() {
      return socket.remotePort;
    },
    get bufferedBytes() {
      return socket.bufferedBytes;
    },
    write(bytes) {
      writes++;
      return socket.write(bytes);
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
  };
  return { socket: counted, writes: () => writes };
}

/** Answers `{key, ok: true}` to every packet but those sent to `/silent`; to `/big`, with an answer over 1 MiB. */
async function echoServer(tcp: TcpImplementation, port = 0, options: Partial<PacketServerOptions> = {}) {
  const seen = { packets: 0 };
  const server = await listenPackets({
    hostname: HOST,
    port,
    log: quiet,
    tcp,
    packet(packet, connection) {
      seen.packets++;
      if (packet.uri === "/big") connection.send({ key: packet.key, ok: true, big: "x".repeat(1.2 * MiB) });
      else if (packet.uri !== "/silent") connection.send({ key: packet.key, ok: true });
    },
    ...options,
  });
  return { server, seen };
}

/** A logger that keeps its warnings (event and details) and writes nothing. */
function recordingLog() {
  const warnings: string[] = [];
  const log = {
    ...quiet,
    warn: (event: string, ...details: unknown[]) => void warnings.push(`${event} ${JSON.stringify(details)}`),
  };
  return { log, warnings };
}

/** The packets in everything a raw socket received. */
function packetsReceived(recorder: Recorder): Packet[] {
  const packets: Packet[] = [];
  new FrameDecoder({ packet: (packet) => void packets.push(packet), problem() {} }).push(recorder.received());
  return packets;
}

const frameOf = (packet: Packet) => utf8.encode(JSON.stringify(packet) + "¶");

/** PacketServer.close must resolve and close the connections still open (it once hung on node:net). */
async function closeServer(server: PacketServer): Promise<void> {
  await server.close();
  await waitUntil(() => server.connections.size === 0, "the server's connections to close");
}

function openClient(tcp: TcpImplementation, port: number, cleanup: Cleanup) {
  const counts = { connected: 0, disconnected: 0 };
  const client = new PacketClient({
    hostname: HOST,
    port,
    log: quiet,
    tcp,
    connectTimeoutMs: 2000,
    connected: () => void counts.connected++,
    disconnected: () => void counts.disconnected++,
  }).open();
  cleanup.add(async () => {
    const wasConnected = client.connected;
    const disconnected = counts.disconnected;
    client.close();
    if (wasConnected) await waitUntil(() => counts.disconnected > disconnected, "the client to disconnect");
  });
  return { client, counts };
}

for (const tcp of implementations) {
  describe(`tcp: ${tcp.name}`, () => {
    describe("adapter", () => {
      it("listens on a real port and carries bytes both ways", () =>
        withCleanup(async (cleanup) => {
          const { listener, nextAccepted } = await rawServer(tcp, cleanup);
          assert.equal(listener.address.address, HOST);
          assert.equal(listener.address.family, "IPv4");
          assert.ok(listener.address.port > 0 && listener.address.port < 65536, `port ${listener.address.port}`);

          const client = await rawClient(tcp, listener.address.port, cleanup);
          const server = await nextAccepted();
          server.onData = (chunk) => server.socket!.write(chunk);
          assert.equal(server.socket!.remoteAddress, HOST);
          assert.ok(server.socket!.remotePort > 0);
          assert.equal(client.socket!.remotePort, listener.address.port);

          // Larger than any runtime's read buffer, so it arrives in several chunks and is echoed in several.
          const sent = pattern(300_000, 7);
          client.socket!.write(sent);
          await waitUntil(() => client.bytes >= sent.byteLength, "the echo");
          assert.deepEqual(server.received(), sent);
          assert.deepEqual(client.received(), sent);

          server.onData = undefined;
          server.socket!.write(utf8.encode("from the server"));
          await waitUntil(() => client.bytes >= sent.byteLength + 15, "the server's own bytes");
          assert.equal(text.decode(client.received().subarray(sent.byteLength)), "from the server");
        }));

      for (const side of ["client", "server"] as const) {
        for (const how of ["end", "destroy"] as const) {
          it(`reports close exactly once on each side when the ${side} calls ${how}()`, () =>
            withCleanup(async (cleanup) => {
              const { listener, nextAccepted } = await rawServer(tcp, cleanup);
              const client = await rawClient(tcp, listener.address.port, cleanup);
              const server = await nextAccepted();
              (side === "client" ? client : server).socket![how]();
              await waitUntil(() => client.closed && server.closed, "both sides to close");
              await delay(100);
              assert.equal(client.closes, 1, "client close count");
              assert.equal(server.closes, 1, "server close count");
            }));
        }
      }

      it("rejects a connection to a port nothing listens on, without waiting for the connect timeout", async () => {
        const port = await freePort(tcp);
        let opened = false;
        const started = performance.now();
        await assert.rejects(
          tcp.connect({ hostname: HOST, port, timeoutMs: 2000 }, () => {
            opened = true;
            return { data() {}, drain() {}, close() {} };
          }),
          (error: Error) => error.name !== "ConnectTimeoutError",
        );
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 1000, `took ${Math.round(elapsed)} ms`);
        assert.equal(opened, false);
      });

      it("write returns false against a paused reader; after resume everything arrives and drain fires", () =>
        withCleanup(async (cleanup) => {
          const { listener, nextAccepted } = await rawServer(tcp, cleanup);
          const client = await rawClient(tcp, listener.address.port, cleanup, true);
          const server = await nextAccepted();

          const cap = 256 * MiB;
          let written = 0;
          let chunks = 0;
          let accepted = true;
          while (accepted && written < cap) {
            const chunk = new Uint8Array(MiB).fill((chunks + 1) & 0xff);
            accepted = server.socket!.write(chunk);
            written += chunk.byteLength;
            chunks++;
          }
          assert.equal(accepted, false, `write never returned false in ${written} bytes`);
          assert.ok(server.socket!.bufferedBytes > 0, "bytes wait in the runtime's buffer");
          assert.equal(server.drains, 0);

          await delay(50);
          assert.equal(client.bytes, 0, "a paused socket delivers nothing");
          client.socket!.resume();
          await waitUntil(() => client.bytes >= written && server.drains > 0, "the data and the drain", 10_000);
          assert.equal(client.bytes, written);
          assert.ok(server.drains >= 1);
          assert.equal(server.socket!.bufferedBytes, 0);
          const received = client.received();
          for (let chunk = 0; chunk < chunks; chunk++) {
            const start = chunk * MiB;
            const expected = (chunk + 1) & 0xff;
            assert.equal(received[start], expected, `first byte of chunk ${chunk}`);
            assert.equal(received[start + MiB - 1], expected, `last byte of chunk ${chunk}`);
          }
        }));
    });

    describe("PacketConnection", () => {
      it("disconnects a peer that does not read once maxBufferedBytes is passed", () =>
        withCleanup(async (cleanup) => {
          const limit = MiB;
          const problems: Parameters<ConnectionEvents["problem"]>[0][] = [];
          let connection: PacketConnection | undefined;
          let closes = 0;
          const listener = await tcp.listen({ hostname: HOST, port: 0 }, (socket) =>
            PacketConnection.handlers(
              socket,
              {
                packet() {},
                problem: (problem) => void problems.push(problem),
                close: () => void closes++,
              },
              { maxBufferedBytes: limit, pauseReadsWhenBlocked: true },
              (ready) => connection = ready,
            ));
          cleanup.add(async () => {
            if (connection && closes === 0) connection.destroy();
            await waitUntil(() => closes > 0, "the server connection to close");
            await listener.close();
          });
          await rawClient(tcp, listener.address.port, cleanup, true);
          await waitUntil(() => connection !== undefined, "the server to accept");

          const body = "x".repeat(10_000);
          const cap = 256 * MiB;
          let sentBytes = 0;
          let key = 0;
          while (problems.length === 0 && closes === 0 && sentBytes < cap) {
            for (let i = 0; i < 20 && problems.length === 0; i++) {
              connection!.send({ uri: "/flood", key: key++, params: body });
              sentBytes += body.length;
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
          assert.ok(sentBytes < cap, `no problem reported after ${sentBytes} bytes`);
          assert.equal(problems.length, 1);
          const [problem] = problems;
          assert.ok(problem.kind === "peer-not-reading", `reported ${JSON.stringify(problem)}`);
          assert.equal(problem.limit, limit);
          assert.ok(problem.bufferedBytes > limit, `reported ${problem.bufferedBytes} buffered bytes`);
          assert.ok(problem.bufferedBytes < limit + MiB, `buffered ${problem.bufferedBytes} bytes before acting`);
          await waitUntil(() => closes > 0, "the connection to be destroyed", 2000);
          assert.equal(closes, 1);
          assert.equal(connection!.closed, true);
          assert.equal(connection!.send({ uri: "/after" }), false);
        }));

      it("coalesces 1000 packets sent in one turn into writes of FLUSH_AT_CHARS or more, decoded in order by the peer", () =>
        withCleanup(async (cleanup) => {
          const received: Packet[] = [];
          const problems: FrameProblem[] = [];
          const { listener, nextAccepted } = await rawServer(tcp, cleanup);
          let writes = () => 0;
          let connection: PacketConnection | undefined;
          let closes = 0;
          await tcp.connect({ hostname: HOST, port: listener.address.port, timeoutMs: 2000 }, (socket) => {
            const counting = countingWrites(socket);
            writes = counting.writes;
            return PacketConnection.handlers(
              counting.socket,
              {
                packet() {},
                problem() {},
                close: () => void closes++,
              },
              {},
              (ready) => connection = ready,
            );
          });
          cleanup.add(async () => {
            connection?.destroy();
            await waitUntil(() => closes > 0, "the client connection to close");
          });
          const server = await nextAccepted();
          const decoder = new FrameDecoder({
            packet: (packet) => void received.push(packet),
            problem: (problem) => void problems.push(problem),
          });
          server.onData = (chunk) => decoder.push(chunk);

          let chars = 0;
          for (let key = 0; key < 1000; key++) {
            const packet = { uri: "/n", method: "POST", key, params: { text: `packet ${key} ¶` } };
            chars += frameText(packet).length;
            assert.equal(connection!.send(packet), true);
          }
          // Every FLUSH_AT_CHARS queued go out at once, so the peer can start on them; the rest at the turn's end.
          const full = Math.floor(chars / FLUSH_AT_CHARS);
          assert.ok(full > 1 && writes() <= full, `${writes()} writes in the turn for ${chars} characters`);
          await waitUntil(() => received.length >= 1000, "1000 packets");
          await delay(50);
          assert.ok(writes() <= full + 1, `${writes()} writes in all`);
          assert.deepEqual(problems, []);
          assert.equal(received.length, 1000);
          assert.deepEqual(received.map((packet) => packet.key), Array.from({ length: 1000 }, (_, key) => key));
          assert.deepEqual(received[999], { uri: "/n", method: "POST", key: 999, params: { text: "packet 999 ¶" } });
        }));
    });

    describe("PacketServer: what a peer can make it hold", () => {
      it("skips a frame over the limit between two normal ones: both are answered and the connection stays", () =>
        withCleanup(async (cleanup) => {
          const { server, seen } = await echoServer(tcp);
          cleanup.add(() => closeServer(server));
          const client = await rawClient(tcp, server.address.port, cleanup);
          const oversize = frameOf({ uri: "/echo", key: 2, params: { s: "x".repeat(1.5 * MiB) } });
          client.socket!.write(frameOf({ uri: "/echo", key: 1 }));
          client.socket!.write(oversize);
          client.socket!.write(frameOf({ uri: "/echo", key: 3 }));
          await waitUntil(() => packetsReceived(client).length >= 2, "two answers");
          await delay(100);
          assert.deepEqual(packetsReceived(client).map((packet) => packet.key), [1, 3]);
          assert.equal(seen.packets, 2);
          assert.equal(client.closed, false, "the connection stays open");
          assert.equal(server.connections.size, 1);
          client.socket!.write(frameOf({ uri: "/echo", key: 4 }));
          await waitUntil(() => packetsReceived(client).length >= 3, "the answer after");
        }));

      it("closes connections beyond maxConnections at once, with one warning", () =>
        withCleanup(async (cleanup) => {
          const { log, warnings } = recordingLog();
          const { server } = await echoServer(tcp, 0, { maxConnections: 3, log });
          cleanup.add(() => closeServer(server));
          const clients: Recorder[] = [];
          for (let i = 0; i < 6; i++) clients.push(await rawClient(tcp, server.address.port, cleanup));
          await waitUntil(() => clients.filter((client) => client.closed).length >= 3, "three to be closed");
          await delay(200);
          assert.deepEqual(clients.map((client) => client.closed), [false, false, false, true, true, true]);
          assert.equal(server.connections.size, 3);
          assert.equal(
            warnings.filter((line) => line.startsWith("connection limit reached")).length,
            1,
            warnings.join("\n"),
          );
          clients[0].socket!.destroy();
          await waitUntil(() => server.connections.size === 2, "the server to see one go");
          const next = await rawClient(tcp, server.address.port, cleanup);
          next.socket!.write(frameOf({ uri: "/echo", key: 7 }));
          await waitUntil(() => packetsReceived(next).length === 1, "a connection under the cap to be served");
        }));

      it("closes the connection that would take unfinished frames over the server's budget", () =>
        withCleanup(async (cleanup) => {
          const { server } = await echoServer(tcp, 0, { maxUnfinishedBytes: MiB });
          cleanup.add(() => closeServer(server));
          const part = utf8.encode(`{"uri":"/echo","key":9,"params":{"s":"${"x".repeat(400_000)}`);
          const clients: Recorder[] = [];
          for (let i = 0; i < 3; i++) {
            const client = await rawClient(tcp, server.address.port, cleanup);
            clients.push(client);
            client.socket!.write(part);
            await delay(150);
          }
          await waitUntil(() => clients[2].closed, "the third to be closed");
          await delay(200);
          assert.deepEqual(clients.map((client) => client.closed), [false, false, true]);
          clients[0].socket!.write(utf8.encode(`"}}¶`));
          await waitUntil(
            () => packetsReceived(clients[0]).length === 1,
            "the first frame to be finished and answered",
          );
          const fourth = await rawClient(tcp, server.address.port, cleanup);
          fourth.socket!.write(part);
          await delay(300);
          assert.equal(fourth.closed, false, "a finished frame gave its bytes back to the budget");
        }));

      it("closes a connection whose frame is not finished within frameDeadlineMs, not one that keeps finishing them", () =>
        withCleanup(async (cleanup) => {
          const deadlineMs = 400;
          const { server, seen } = await echoServer(tcp, 0, { frameDeadlineMs: deadlineMs });
          cleanup.add(() => closeServer(server));
          const [stalled, trickling, busy] = [
            await rawClient(tcp, server.address.port, cleanup),
            await rawClient(tcp, server.address.port, cleanup),
            await rawClient(tcp, server.address.port, cleanup),
          ];
          const started = performance.now();
          stalled.socket!.write(utf8.encode(`{"uri":"/echo","key":1,"params":{"s":"`));
          trickling.socket!.write(utf8.encode(`{"uri":"/echo","key":2,"params":{"s":"`));
          let key = 100;
          while (performance.now() - started < 3 * deadlineMs) {
            if (!trickling.closed) trickling.socket!.write(utf8.encode("x"));
            // Every frame split over two writes: frames are unfinished all the time, each for a moment.
            const frame = frameOf({ uri: "/echo", key: key++ });
            busy.socket!.write(frame.subarray(0, 10));
            await delay(25);
            busy.socket!.write(frame.subarray(10));
          }
          assert.equal(stalled.closed, true, "the stalled frame's connection is closed");
          assert.equal(trickling.closed, true, "the trickling frame's connection is closed");
          assert.equal(busy.closed, false, "the connection that keeps finishing frames stays");
          await waitUntil(() => packetsReceived(busy).length === key - 100, "every frame of the busy one answered");
          assert.equal(seen.packets, key - 100);
        }));

      it("a destroyed connection takes no more frames, even from the chunk being read", () =>
        withCleanup(async (cleanup) => {
          let handled = 0;
          const server = await listenPackets({
            hostname: HOST,
            port: 0,
            log: quiet,
            tcp,
            packet(_packet, connection) {
              handled++;
              connection.destroy();
            },
          });
          cleanup.add(() => closeServer(server));
          const client = await rawClient(tcp, server.address.port, cleanup);
          const frames = Array.from({ length: 1000 }, (_, key) => frameOf({ uri: "/echo", key }));
          client.socket!.write(utf8.encode(frames.map((frame) => text.decode(frame)).join("")));
          await waitUntil(() => client.closed, "the server to close");
          await delay(100);
          assert.equal(handled, 1);
        }));

      it("starts at most packetsPerTurn of one read's requests per event-loop turn, all of them in order", () =>
        withCleanup(async (cleanup) => {
          /** Keys as handed over, with "|" where an event-loop turn ended in between. */
          const seen: (number | "|")[] = [];
          let marked = false;
          const server = await listenPackets({
            hostname: HOST,
            port: 0,
            log: quiet,
            tcp,
            packetsPerTurn: 5,
            packet(packet, connection) {
              if (!marked) {
                marked = true;
                setImmediate(() => {
                  marked = false;
                  seen.push("|");
                });
              }
              seen.push(packet.key as number);
              connection.send({ key: packet.key, ok: true });
            },
          });
          cleanup.add(() => closeServer(server));
          const client = await rawClient(tcp, server.address.port, cleanup);
          const frames = Array.from({ length: 23 }, (_, key) => text.decode(frameOf({ uri: "/echo", key })));
          client.socket!.write(utf8.encode(frames.join("")));
          await waitUntil(() => seen.filter((entry) => entry !== "|").length === 23, "all 23 to be handed over");
          assert.deepEqual(seen.filter((entry) => entry !== "|"), Array.from({ length: 23 }, (_, key) => key));
          const turns = seen.join(",").split("|").map((turn) => turn.split(",").filter(Boolean).length);
          assert.ok(Math.max(...turns) <= 5, `per turn: ${turns.join(" ")}`);
          assert.ok(turns.filter((count) => count > 0).length >= 5, `per turn: ${turns.join(" ")}`);
        }));

      it("reports a peer that does not read once, however many requests follow in what it sent", () =>
        withCleanup(async (cleanup) => {
          const { log, warnings } = recordingLog();
          const server = await listenPackets({
            hostname: HOST,
            port: 0,
            log,
            tcp,
            maxBufferedBytes: 256 * 1024,
            packet: (packet, connection) => void connection.send({ key: packet.key, s: "x".repeat(10_000) }),
          });
          cleanup.add(() => closeServer(server));
          const client = await rawClient(tcp, server.address.port, cleanup, true);
          const batch = utf8.encode(
            Array.from({ length: 2000 }, (_, key) => JSON.stringify({ uri: "/echo", key }) + "¶").join(""),
          );
          await waitUntil(() => server.connections.size === 1, "the server to accept");
          for (let i = 0; i < 10 && server.connections.size > 0; i++) {
            client.socket!.write(batch);
            await delay(20);
          }
          // Bun does not report the close to a paused socket: the server's side is what counts here.
          await waitUntil(() => server.connections.size === 0, "the server to drop the peer");
          await delay(100);
          const lines = warnings.filter((line) => line.includes("peer-not-reading"));
          assert.equal(lines.length, 1, `${lines.length} lines`);
        }));
    });

    describe("PacketClient", () => {
      it("matches 500 concurrent requests on one connection to their own answers", () =>
        withCleanup(async (cleanup) => {
          const { server, seen } = await echoServer(tcp);
          cleanup.add(() => closeServer(server));
          const { client, counts } = openClient(tcp, server.address.port, cleanup);
          await waitUntil(() => client.connected, "the client to connect");
          assert.equal(counts.connected, 1);

          const keys = Array.from({ length: 500 }, (_, i) => 1000 + i * 7);
          const answers = await Promise.all(keys.map((key) => client.request({ uri: "/echo", key }, 5000)));
          assert.deepEqual(answers, keys.map((key) => ({ key, ok: true })));
          assert.equal(seen.packets, 500);
          assert.equal(server.connections.size, 1, "all on one connection");
          assert.equal(client.inFlight, 0);
        }));

      it("requestAnswer gives the parsed answer and its JSON text together", () =>
        withCleanup(async (cleanup) => {
          const { server } = await echoServer(tcp);
          cleanup.add(() => closeServer(server));
          const { client } = openClient(tcp, server.address.port, cleanup);
          await waitUntil(() => client.connected, "the client to connect");

          const answer = await client.requestAnswer({ uri: "/echo", key: 42 }, 2000);
          assert.deepEqual(answer.packet, { key: 42, ok: true });
          assert.equal(answer.text, "{\"key\":42,\"ok\":true}");
        }));

      it("fails at once only the request whose answer is too large; the 49 others succeed on the same connection", () =>
        withCleanup(async (cleanup) => {
          const { server } = await echoServer(tcp);
          cleanup.add(() => closeServer(server));
          const { client, counts } = openClient(tcp, server.address.port, cleanup);
          await waitUntil(() => client.connected, "the client to connect");

          const started = performance.now();
          const results = await Promise.allSettled(
            Array.from({ length: 50 }, (_, key) => client.request({ uri: key === 25 ? "/big" : "/echo", key }, 10_000)),
          );
          const elapsed = performance.now() - started;
          const failed = results.flatMap((result, key) => result.status === "rejected" ? [[key, result.reason]] : []);
          assert.equal(failed.length, 1, failed.map(String).join("; "));
          const [[key, reason]] = failed;
          assert.equal(key, 25);
          assert.ok(reason instanceof AnswerTooLargeError, String(reason));
          assert.ok(elapsed < 3000, `settled after ${Math.round(elapsed)} ms, not at the 10 s timeout`);
          assert.deepEqual(results[24], { status: "fulfilled", value: { key: 24, ok: true } });
          assert.equal(client.connected, true);
          assert.equal(counts.connected, 1, "the connection was never lost");
          assert.deepEqual(await client.request({ uri: "/echo", key: 99 }, 2000), { key: 99, ok: true });
        }));

      it("rejects a request nobody answers with RequestTimeoutError after its timeout", () =>
        withCleanup(async (cleanup) => {
          const { server, seen } = await echoServer(tcp);
          cleanup.add(() => closeServer(server));
          const { client } = openClient(tcp, server.address.port, cleanup);
          await waitUntil(() => client.connected, "the client to connect");

          const started = performance.now();
          await assert.rejects(client.request({ uri: "/silent", key: 1 }, 200), RequestTimeoutError);
          const elapsed = performance.now() - started;
          assert.ok(elapsed >= 150 && elapsed <= 1500, `rejected after ${Math.round(elapsed)} ms`);
          assert.equal(seen.packets, 1);
          assert.equal(client.inFlight, 0);
          assert.deepEqual(await client.request({ uri: "/echo", key: 1 }, 2000), { key: 1, ok: true });
          assert.equal(client.inFlight, 0);
        }));

      it("fails every request in flight at once with ConnectionLostError when the server drops the connection", () =>
        withCleanup(async (cleanup) => {
          const { server, seen } = await echoServer(tcp);
          cleanup.add(() => closeServer(server));
          const { client, counts } = openClient(tcp, server.address.port, cleanup);
          await waitUntil(() => client.connected, "the client to connect");

          const requests = Array.from({ length: 50 }, (_, key) => client.request({ uri: "/silent", key }, 10_000));
          const settled = Promise.allSettled(requests);
          await waitUntil(() => seen.packets === 50, "the server to receive all 50 requests");
          assert.equal(client.inFlight, 50);
          const started = performance.now();
          for (const connection of server.connections) connection.destroy();
          const results = await settled;
          const elapsed = performance.now() - started;
          assert.ok(elapsed < 500, `rejected after ${Math.round(elapsed)} ms`);
          for (const result of results) {
            assert.equal(result.status, "rejected");
            assert.ok(result.reason instanceof ConnectionLostError, String(result.reason));
          }
          assert.equal(client.inFlight, 0);
          // The server still listens: the client comes back by itself.
          await waitUntil(() => counts.connected === 2 && client.connected, "the client to reconnect", 3000);
        }));

      it("reconnects by itself when the server comes back on the same port", () =>
        withCleanup(async (cleanup) => {
          const first = (await echoServer(tcp)).server;
          const port = first.address.port;
          let firstOpen = true;
          let second: PacketServer | undefined;
          cleanup.add(() => firstOpen && closeServer(first));
          cleanup.add(() => second && closeServer(second));
          const { client, counts } = openClient(tcp, port, cleanup);
          await waitUntil(() => client.connected, "the client to connect");
          assert.deepEqual(await client.request({ uri: "/echo", key: 1 }, 2000), { key: 1, ok: true });

          await closeServer(first);
          firstOpen = false;
          await waitUntil(() => !client.connected && counts.disconnected === 1, "the client to see the server go");
          await assert.rejects(client.request({ uri: "/echo", key: 2 }, 2000), NotConnectedError);
          assert.equal(client.inFlight, 0);
          await delay(300);
          assert.equal(client.connected, false);
          assert.equal(counts.connected, 1);

          second = (await echoServer(tcp, port)).server;
          assert.equal(second.address.port, port);
          await waitUntil(() => client.connected && counts.connected === 2, "the client to reconnect", 3500);
          assert.deepEqual(await client.request({ uri: "/echo", key: 3 }, 2000), { key: 3, ok: true });
          assert.equal(client.inFlight, 0);
        }));
    });
  });
}
