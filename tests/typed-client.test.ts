/**
 * The typed gateway client (lib/client/gateway-client.ts) against a running gateway and the shipped services,
 * typed by their own contracts: the book's flow gives exactly the book's answers, and the gateway's own
 * failures (unknown route, no instance, unreachable gateway) come back as a Failure with the HTTP status,
 * never as a throw.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as v from "valibot";
import { gatewayClient } from "../lib/client/gateway-client.ts";
import { defineService } from "../lib/contract/contract.ts";
import { goods } from "../services/goods/contract.ts";
import { members } from "../services/members/contract.ts";
import { purchases } from "../services/purchases/contract.ts";
import { startSystem, type System } from "./support/system.ts";

/** A contract no service serves: the gateway knows no such route. */
const missing = defineService("missing", {
  "GET/missing": { params: v.object({}), answer: v.object({}) },
});

describe("typed gateway client", () => {
  let system: System;
  before(async () => {
    system = await startSystem();
  });
  after(() => system?.stop());

  it("runs the book's flow (docs/protocol.md §6) with typed calls and gets the book's answers", async () => {
    const api = gatewayClient<typeof goods | typeof members | typeof purchases>(system.url);
    const success = (key: number) => ({ key, errorcode: 0, errormessage: "success", status: 200 });

    assert.deepEqual(await api.call("DELETE/members", { username: "test_account" }), success(0));
    assert.deepEqual(await api.call("POST/members", { username: "test_account", password: "1234" }), success(1));
    const login = await api.call("GET/members", { username: "test_account", password: "1234" });
    assert.deepEqual(login, { ...success(2), userid: 1 });
    const posted = await api.call("POST/goods", {
      name: "test Goods",
      category: "tests",
      price: 1000,
      description: "test",
    });
    assert.deepEqual(posted, success(3));
    const listed = await api.call("GET/goods", {});
    assert.deepEqual(listed, {
      ...success(4),
      results: [{ id: 1, name: "test Goods", category: "tests", price: 1000, description: "test" }],
    });
    assert.deepEqual(await api.call("DELETE/goods", { id: 1 }), success(5));
    assert.deepEqual(await api.call("POST/purchases", { userid: 1, goodsid: 1 }), success(6));
    const bought = await api.call("GET/purchases", { userid: 1 });
    assert.equal(bought.errorcode, 0);
    if (bought.errorcode === 0) {
      assert.deepEqual(bought.results.map(({ id, goodsid }) => ({ id, goodsid })), [{ id: 1, goodsid: 1 }]);
      assert.match(bought.results[0].date, /Z$/);
    }
    const history = await api.call("GET/purchases/history", { userid: 1, limit: 10 });
    assert.equal(history.errorcode, 0);
    if (history.errorcode === 0) assert.deepEqual(history.results.map((row) => row.goods), [null]);
    const wrong = await api.call("GET/members", { username: "test_account", password: "nope" });
    assert.deepEqual([wrong.status, wrong.errorcode, wrong.errormessage], [200, 1, "invalid password"]);
  });

  it("turns the gateway's failures into a Failure with the HTTP status", async () => {
    const unknown = await gatewayClient<typeof missing>(system.url).call("GET/missing", {});
    assert.deepEqual([unknown.status, unknown.errorcode], [404, 1]);
    assert.equal(typeof unknown.errormessage, "string");

    await system.services.get("members")!.stop();
    const away = await gatewayClient<typeof members>(system.url).call("DELETE/members", { username: "x" });
    assert.deepEqual([away.status, away.errorcode], [503, 1], JSON.stringify(away));
    assert.equal(away.errorcode === 1 ? away.retryAfter : undefined, 1, "the gateway's Retry-After");

    // Port 1 is privileged: nothing listens there in a test.
    const unreachable = await gatewayClient<typeof goods>("http://127.0.0.1:1").call("GET/goods", {});
    assert.deepEqual([unreachable.status, unreachable.errorcode], [0, 1]);
    assert.match(unreachable.errormessage, /^could not reach the gateway at /);
  });
});
