/**
 * The examples (README, "Writing a service" and "Calling another service"), end to end with a mesh secret:
 * shout calls echo through the mesh, a program calls shout through the gateway with the typed client, and a
 * shout without the secret cannot reach echo even when told where it is.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { echo, shout } from "../examples/contracts.ts";
import { gatewayClient } from "../lib/client/gateway-client.ts";
import { type AnyPacket, BookPeer } from "./support/book-peer.ts";
import { type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { startSystem, type System, waitForInstances } from "./support/system.ts";

const SECRET = "example-secret-of-the-mesh-5d1c";

/** A distributor stand-in with no secret that tells every node it lists only `node`. */
async function listingDistributor(node: Record<string, unknown>): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.write(JSON.stringify({ uri: "/distributes", method: "GET", key: 0, params: [node] }) + "¶");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe("examples: a service that calls another, with a mesh secret", () => {
  let system: System;
  let echoProcess: RunningProcess;
  let shoutProcess: RunningProcess;
  before(async () => {
    system = await startSystem({ services: [], env: { PILCROW_SECRET: SECRET } });
    const options = { env: { PILCROW_SECRET: SECRET } };
    const mesh = ["--distributor", `127.0.0.1:${system.distributor.port}`];
    [echoProcess, shoutProcess] = await Promise.all([
      startProcess("examples/echo.ts", ["0", ...mesh], options),
      startProcess("examples/shout.ts", ["0", ...mesh], options),
    ]);
    await waitForInstances(system, 2);
    await shoutProcess.waitFor((entry) => entry.event === "instance connected" && entry.details[1] === "echo");
  });
  after(() => stopAll([shoutProcess, echoProcess, system?.gate, system?.distributor]));

  it("shout calls echo through the mesh, and a program calls shout with the typed client", async () => {
    const api = gatewayClient<typeof shout | typeof echo>(system.url);
    const shouted = await api.call("GET/shout", { text: "hello, 메시" });
    assert.equal(shouted.errorcode, 0, JSON.stringify(shouted));
    assert.equal(shouted.shout, "HELLO, 메시!");
    assert.equal(shouted.status, 200);
    const echoed = await api.call("GET/echo", { text: "plain" });
    assert.deepEqual({ ...echoed, key: 0 }, {
      key: 0,
      errorcode: 0,
      errormessage: "success",
      echo: "plain",
      status: 200,
    });
    const refused = await api.call("GET/shout", { text: "" });
    assert.deepEqual([refused.errorcode, refused.errormessage], [1, "nothing to echo"], "echo's failure, passed on");
  });

  it("a shout without the secret, told where echo is, cannot reach it", async () => {
    const fake = await listingDistributor({
      port: echoProcess.port,
      name: "echo",
      urls: ["GET/echo"],
      host: "127.0.0.1",
      pilcrow: 1,
    });
    let outsider: RunningProcess | undefined;
    let client: BookPeer | undefined;
    try {
      const from = echoProcess.entries.length;
      outsider = await startProcess("examples/shout.ts", ["0", "--distributor", `127.0.0.1:${fake.port}`]);
      await echoProcess.waitFor((entry) => entry.event === "authentication failed", 10_000, from);
      client = await BookPeer.connect(outsider.port);
      client.send({ uri: "/shout", method: "GET", params: { text: "let me in", key: 1 } });
      const answer = await client.waitFor((packet: AnyPacket) => packet.key === 1);
      assert.equal(answer.errorcode, 1);
      assert.match(answer.errormessage, /^echo could not be reached: /);
    } finally {
      client?.close();
      await stopAll([outsider]);
      fake.close();
    }
  });

  it("shout says so when echo is away", async () => {
    await echoProcess.stop();
    const api = gatewayClient<typeof shout>(system.url);
    const away = await api.call("GET/shout", { text: "anyone?" });
    assert.equal(away.status, 200);
    assert.equal(away.errorcode, 1);
    assert.match(away.errormessage, /^echo could not be reached: /);
  });
});
