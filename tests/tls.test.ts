/**
 * Mutual TLS on the mesh, with real processes and certificates made by openssl for the test: the system works
 * with TLS and a secret, TLS alone and a secret alone; a recording relay between the gateway and members sees
 * no password once TLS is on (and, as the control, sees it without); a peer with no certificate, one from
 * another CA or an expired one is refused by a service and by the distributor, never listed, never routed to.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { DENO_PERMISSIONS, tlsImplementation } from "../lib/runtime/mod.ts";
import { type TcpSocket, TLS_HANDSHAKE_TIMEOUT_MS, type TlsCredentials } from "../lib/runtime/types.ts";
import { type CertificateFiles, makeTestPki, type TestPki } from "./support/certificates.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, startSystem, type System, waitForInstances } from "./support/system.ts";

const SECRET = "tls-test-mesh-secret-5d8e1f";
const PASSWORD = "pw-on-the-wire-Kx81q";

const pki: TestPki = makeTestPki();

/** Deno's processes read the project directory only; they must read the certificates too. */
const denoPermissions = DENO_PERMISSIONS.map((flag) => flag === "--allow-read=." ? `--allow-read=.,${pki.dir}` : flag);

function tlsEnv(files: CertificateFiles, ca = pki.ca): Record<string, string> {
  return { PILCROW_TLS_CERT: files.cert, PILCROW_TLS_KEY: files.key, PILCROW_TLS_CA: ca };
}

function credentials(files: CertificateFiles, ca = pki.ca): TlsCredentials {
  return { cert: pki.read(files.cert), key: pki.read(files.key), ca: pki.read(ca) };
}

/**
 * A node:net relay on 127.0.0.1:port that forwards every connection to 127.0.0.2:port and keeps every byte
 * that passes, both ways: someone on the path between the gateway and a service.
 */
class RecordingRelay {
  readonly recorded: Buffer[] = [];
  readonly #sockets = new Set<Socket>();

  private constructor(readonly server: Server) {}

  static listen(port: number): Promise<RecordingRelay> {
    const relay: RecordingRelay = new RecordingRelay(createServer((inbound) => relay.#forward(inbound, port)));
    return new Promise((resolve, reject) => {
      relay.server.once("error", reject);
      relay.server.listen(port, "127.0.0.1", () => resolve(relay));
    });
  }

  #forward(inbound: Socket, port: number): void {
    const outbound = netConnect({ host: "127.0.0.2", port });
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]]) {
      this.#sockets.add(from);
      from.on("data", (chunk: Buffer) => {
        this.recorded.push(Buffer.from(chunk));
        to.write(chunk);
      });
      from.on("error", () => {});
      from.on("close", () => to.destroy());
    }
  }

  get bytes(): Buffer {
    return Buffer.concat(this.recorded);
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Members on 127.0.0.2 behind a relay on 127.0.0.1, the address the distributor lists it at. */
async function relayedMembers(system: System, options: Parameters<typeof startProcess>[2]) {
  for (let attempt = 1;; attempt++) {
    const args = ["0", "--host", "127.0.0.2", "--distributor", `127.0.0.1:${system.distributor.port}`];
    const members = await startProcess("members.ts", args, options);
    try {
      return { members, relay: await RecordingRelay.listen(members.port) };
    } catch (error) {
      // Its port happened to be taken on 127.0.0.1: another one.
      await members.stop();
      if (attempt === 3) throw error;
    }
  }
}

interface Outcome {
  /** Application bytes the server sent back. */
  received: Buffer;
  /** It closed the connection within the wait. */
  closed: boolean;
}

/**
 * A TLS client that waits a moment after its handshake for the server to speak first (the distributor sends
 * its list, a server with a secret its challenge), sends `packet` if it has not, and stops at the first
 * whole packet, at the server's close, or after `waitMs`.
 */
function tlsExchange(port: number, client: Partial<TlsCredentials>, packet: object, waitMs = 2000): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port,
      ...client,
      ca: pki.read(pki.ca),
      checkServerIdentity: () => undefined,
    });
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("secureConnect", () =>
      setTimeout(() => {
        if (chunks.length === 0 && !socket.destroyed) socket.write(JSON.stringify(packet) + "¶");
      }, 300));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunk.includes("¶")) socket.destroy();
    });
    socket.on("error", () => closed = true);
    socket.on("end", () => closed = true);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closed });
    });
  });
}

/** A book-protocol peer in clear text: it sends `packet` and collects what comes back. */
function plainExchange(port: number, packet: object, waitMs = 2000): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: "127.0.0.1", port }, () => socket.write(JSON.stringify(packet) + "¶"));
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => closed = true);
    socket.on("end", () => closed = true);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closed });
    });
  });
}

const GOODS = { name: "tls goods", category: "tests", price: 7, description: "over TLS" };
const LIST_GOODS = { uri: "/goods", method: "GET", params: { key: 1 }, key: 1 };

/** POST and GET /goods, then a signup and a login through the gateway; every answer a success. */
async function useTheSystem(system: System, username: string): Promise<void> {
  const posted = await call(system, "POST", "/goods", GOODS);
  assert.deepEqual([posted.status, posted.body.errorcode], [200, 0], JSON.stringify(posted.body));
  const listed = await call(system, "GET", "/goods");
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.results.map((goods: { name: string }) => goods.name), [GOODS.name]);
  const signup = await call(system, "POST", "/members", { username, password: PASSWORD });
  assert.deepEqual([signup.status, signup.body.errorcode], [200, 0], JSON.stringify(signup.body));
  const login = await call(system, "GET", `/members?username=${username}&password=${PASSWORD}`);
  assert.deepEqual([login.status, login.body.errorcode], [200, 0], JSON.stringify(login.body));
}

const MODES = [
  { label: "TLS and a secret", tls: true, secret: true },
  { label: "TLS alone", tls: true, secret: false },
  { label: "a secret alone (no TLS)", tls: false, secret: true },
];

describe("mesh TLS", () => {
  after(() => pki.remove());

  for (const mode of MODES) {
    describe(`a mesh with ${mode.label}`, () => {
      const env = { ...(mode.tls ? tlsEnv(pki.node) : {}), ...(mode.secret ? { PILCROW_SECRET: SECRET } : {}) };
      const options = { env, denoPermissions };
      let system: System;
      let members: RunningProcess;
      let relay: RecordingRelay;
      before(async () => {
        system = await startSystem({ ...options, services: ["goods"] });
        ({ members, relay } = await relayedMembers(system, options));
        await waitForInstances(system, 2);
      });
      after(async () => {
        await relay?.close();
        await stopAll([members, system?.gate]);
        await system?.stop();
      });

      it("serves goods and members through the gateway", async () => {
        await useTheSystem(system, `user-${mode.tls ? "t" : "p"}${mode.secret ? "s" : "n"}`);
      });

      it(
        mode.tls
          ? "shows the relay between gateway and members no password"
          : "shows the relay between gateway and members the password (the control)",
        () => {
          const seen = relay.bytes;
          assert.ok(seen.length > 0, "the traffic to members went through the relay");
          assert.equal(seen.includes(PASSWORD), !mode.tls);
          if (mode.tls) assert.ok(!seen.includes("\"uri\""), "no packet in clear at all");
        },
      );

      if (!mode.tls) return;

      it("refuses a client with no certificate, one from another CA and an expired one, on every mesh port", async () => {
        const ports = { distributor: system.distributor.port, goods: system.services.get("goods")!.port };
        const refused: [string, Partial<TlsCredentials>][] = [
          ["no certificate", {}],
          ["another CA's certificate", { cert: pki.read(pki.stranger.cert), key: pki.read(pki.stranger.key) }],
          ["an expired certificate", { cert: pki.read(pki.expired.cert), key: pki.read(pki.expired.key) }],
        ];
        for (const [role, port] of Object.entries(ports)) {
          // The control: with the mesh's certificate the same exchange is answered.
          const welcome = await tlsExchange(
            port,
            { cert: pki.read(pki.node.cert), key: pki.read(pki.node.key) },
            LIST_GOODS,
          );
          assert.ok(welcome.received.length > 0, `${role} answers a client with the mesh's certificate`);
          for (const [what, client] of refused) {
            const outcome = await tlsExchange(port, client, LIST_GOODS);
            assert.deepEqual([outcome.closed, outcome.received.length], [true, 0], `${role}, ${what}`);
          }
          const clear = await plainExchange(port, LIST_GOODS);
          assert.ok(!clear.received.includes("\"uri\"") && !clear.received.includes("errorcode"), `${role}, in clear`);
        }
        await system.distributor.waitFor((entry) => entry.event === "TLS peer refused");
        await system.services.get("goods")!.waitFor((entry) => entry.event === "TLS peer refused");
      });

      if (!mode.secret) {
        it("closes connections that never finish their TLS handshake, on every mesh port", async () => {
          const ports = [system.distributor.port, system.services.get("goods")!.port];
          // Nothing at all, or a handshake record announcing 16 KB and sending most of it.
          const stalls = [[], [Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]), Buffer.alloc(16_000, 1)]];
          const closedAt: number[] = [];
          const sockets: Socket[] = [];
          const started = Date.now();
          for (const port of ports) {
            for (const stall of stalls) {
              for (let i = 0; i < 25; i++) {
                const socket = netConnect({ host: "127.0.0.1", port });
                socket.on("error", () => {});
                socket.on("data", () => {});
                socket.on("close", () => closedAt.push(Date.now() - started));
                for (const bytes of stall) socket.write(bytes);
                sockets.push(socket);
              }
            }
          }
          try {
            const limitMs = TLS_HANDSHAKE_TIMEOUT_MS + 4000;
            await eventually(
              () => closedAt.length === sockets.length || undefined,
              limitMs,
              "the stalled handshakes to close",
            )
              .catch(() => {});
            assert.equal(closedAt.length, sockets.length, `closed within ${limitMs} ms`);
            assert.ok(Math.min(...closedAt) >= TLS_HANDSHAKE_TIMEOUT_MS - 500, "not before the handshake timeout");
          } finally {
            for (const socket of sockets) socket.destroy();
          }
        });
      }

      it("never lists or routes to a node with another CA's certificate, or with none", async () => {
        const distributorArgs = ["0", "--distributor", `127.0.0.1:${system.distributor.port}`];
        const refusedFrom = system.distributor.entries.length;
        const impostors = await Promise.all([
          startProcess("goods.ts", distributorArgs, {
            env: { ...tlsEnv(pki.stranger, pki.strangerCa) },
            denoPermissions,
          }),
          startProcess("goods.ts", distributorArgs, {
            env: { PILCROW_TLS_CERT: "", PILCROW_TLS_KEY: "", PILCROW_TLS_CA: "" },
          }),
        ]);
        try {
          // Each keeps trying to register; each attempt is refused.
          await eventually(
            () =>
              system.distributor.entries.slice(refusedFrom).filter((entry) => entry.event === "TLS peer refused").length
                >= 4
              || undefined,
            15_000,
            "the distributor to refuse both impostors twice",
          );
          const listedPorts = JSON.stringify(system.distributor.entries.filter((entry) => entry.event === "onRead"));
          for (const impostor of impostors) assert.ok(!listedPorts.includes(`${impostor.port}`), "never registered");
          // Their stores are empty: were one routed to, GET /goods would answer "no data".
          for (let i = 0; i < 10; i++) {
            const listed = await call(system, "GET", "/goods");
            assert.deepEqual([listed.status, listed.body.errorcode], [200, 0], JSON.stringify(listed.body));
          }
        } finally {
          await stopAll(impostors);
        }
      });
    });
  }

  describe("TLS at start-up", () => {
    it("refuses to start with an expired certificate, naming the file and not the key", async () => {
      const started = await startProcess("goods.ts", ["0"], {
        env: tlsEnv(pki.expired),
        denoPermissions,
        waitForListen: false,
      });
      assert.equal(await started.exited, 2);
      const output = started.output.join("\n");
      assert.ok(output.includes(pki.expired.cert), output);
      assert.match(output, /valid only from/);
      assert.ok(!output.includes("PRIVATE KEY") && !output.includes(pki.read(pki.expired.key).split("\n")[1]));
    });

    it("refuses a key that is not the certificate's, and a missing file, each named", async () => {
      const cases: [Record<string, string>, string][] = [
        [{ ...tlsEnv(pki.node), PILCROW_TLS_KEY: pki.stranger.key }, pki.stranger.key],
        [{ ...tlsEnv(pki.node), PILCROW_TLS_CA: `${pki.dir}/missing-ca.crt` }, `${pki.dir}/missing-ca.crt`],
      ];
      for (const [env, file] of cases) {
        const started = await startProcess("distributor.ts", ["0"], { env, denoPermissions, waitForListen: false });
        assert.equal(await started.exited, 2);
        assert.ok(started.output.join("\n").includes(file), started.output.join("\n"));
      }
    });

    it("listens beyond loopback with TLS and no secret", async () => {
      const guarded = await startProcess("distributor.ts", ["0", "--host", "0.0.0.0"], {
        env: tlsEnv(pki.node),
        denoPermissions,
      });
      assert.ok(guarded.running);
      await guarded.stop();
    });
  });

  describe("the TLS implementation (in this process)", () => {
    it("pins the mesh CA: a server certificate naming no address of the server is accepted, another CA's is not", async () => {
      const listened: TcpSocket[] = [];
      const reasons: string[] = [];
      const listen = (files: CertificateFiles, ca: string) =>
        tlsImplementation(credentials(files, ca), (_peer, reason) => reasons.push(reason)).listen(
          { hostname: "127.0.0.1", port: 0 },
          (socket) => {
            listened.push(socket);
            return { data: () => {}, drain: () => {}, close: () => {} };
          },
        );
      const client = tlsImplementation(credentials(pki.node));
      const handlers = { data: () => {}, drain: () => {}, close: () => {} };
      const mesh = await listen(pki.node, pki.ca);
      const stranger = await listen(pki.stranger, pki.strangerCa);
      try {
        const connected = await client.connect(
          { hostname: "127.0.0.1", port: mesh.address.port, timeoutMs: 3000 },
          () => handlers,
        );
        await eventually(() => listened.length === 1 || undefined, 3000, "the server to take the connection");
        connected.destroy();
        await assert.rejects(
          client.connect({ hostname: "127.0.0.1", port: stranger.address.port, timeoutMs: 3000 }, () => handlers),
        );
        await delay(200);
        assert.equal(listened.length, 1, "only the connection to the mesh's server was handed on");
        assert.ok(reasons.length > 0, "the stranger's server refused the mesh's certificate, and said so");
      } finally {
        await mesh.close();
        await stranger.close();
      }
    });
  });
});
