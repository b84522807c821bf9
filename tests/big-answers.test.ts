/**
 * A service never sends an answer its peer cannot take (issue 11 item 2): nine ordinary goods whose
 * description is 21,845 × "¶" (6 bytes each once escaped on the wire) make the whole list larger than the
 * mesh's 1 MiB frame limit. The list must then be a clear `errorcode 1`, a page of it must work, and every
 * other request must go on succeeding — the route never breaks. Real processes, real HTTP and TCP.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LONG_TEXT_CHARS } from "../lib/service/params.ts";
import { delay } from "./support/processes.ts";
import { call, type Json, startSystem, type System } from "./support/system.ts";

const BIG_DESCRIPTION = "¶".repeat(LONG_TEXT_CHARS);

describe("big answers", () => {
  let system: System;
  before(async () => {
    system = await startSystem({ services: ["goods", "purchases"], gateArgs: ["--timeout", "5000"] });
  });
  after(() => system?.stop());

  it("a list over the frame limit is a clear errorcode 1, a page of it works, and nothing else fails", async () => {
    for (let i = 0; i < 9; i++) {
      const posted = await call(system, "POST", "/goods", {
        name: `big ${i}`,
        category: "pilcrows",
        price: i,
        description: BIG_DESCRIPTION,
      });
      assert.deepEqual([posted.status, posted.body.errorcode], [200, 0], JSON.stringify(posted.body));
    }

    const whole = await call(system, "GET", "/goods");
    assert.equal(whole.status, 200, JSON.stringify(whole.body).slice(0, 300));
    assert.equal(whole.body.errorcode, 1);
    assert.match(whole.body.errormessage, /^answer too large: \d+ bytes.*use paging \(limit, after\)/);
    assert.equal(typeof whole.body.key, "number", "the refusal answers the request's key");

    const first = await call(system, "GET", "/goods?limit=2");
    assert.equal(first.body.errorcode, 0, JSON.stringify(first.body).slice(0, 300));
    assert.deepEqual(first.body.results.map((row: Json) => row.name), ["big 0", "big 1"]);
    assert.equal(first.body.results[0].description, BIG_DESCRIPTION, "the ¶s come back intact");

    // Paging through the whole list with `after` gives every row once, in id order.
    const names: string[] = [];
    let afterId: number | undefined;
    for (;;) {
      const page = await call(system, "GET", `/goods?limit=4${afterId === undefined ? "" : `&after=${afterId}`}`);
      if (page.body.errorcode === 1 && page.body.errormessage === "no data") break;
      assert.equal(page.body.errorcode, 0, JSON.stringify(page.body).slice(0, 300));
      names.push(...page.body.results.map((row: Json) => row.name));
      afterId = page.body.results.at(-1).id;
    }
    assert.deepEqual(names, Array.from({ length: 9 }, (_, i) => `big ${i}`));

    // While the whole list keeps being asked for (and refused), POSTs and other GETs all succeed.
    let stopped = false;
    const failures: string[] = [];
    let succeeded = 0;
    const expectSuccess = async (method: string, path: string, body?: unknown) => {
      const response = await call(system, method, path, body);
      if (response.status === 200 && response.body.errorcode === 0) succeeded++;
      else failures.push(`${method} ${path}: ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`);
    };
    const loops = [
      async () => {
        for (let i = 0; !stopped; i++) {
          await expectSuccess("POST", "/goods", { name: `small ${i}`, category: "c", price: i, description: "d" });
        }
      },
      async () => {
        while (!stopped) await expectSuccess("GET", "/goods?limit=3");
      },
      async () => {
        while (!stopped) await expectSuccess("GET", "/purchases?userid=1");
      },
      async () => {
        while (!stopped) {
          const response = await call(system, "GET", "/goods");
          if (response.status !== 200 || response.body.errorcode !== 1) {
            failures.push(`GET /goods: ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`);
          }
        }
      },
    ].map((loop) => loop());
    await delay(2000);
    stopped = true;
    await Promise.all(loops);
    assert.deepEqual(failures, [], `0 failures (${succeeded} requests succeeded)`);
    assert.ok(succeeded > 20, `a steady load (${succeeded} requests)`);
    assert.equal(
      system.gate.entries.filter((entry) => entry.event === "instance connection lost").length,
      0,
      "the gateway's connection to goods never broke",
    );
    const refusals = system.services.get("goods")!.entries.filter((entry) => entry.event === "answer too large");
    assert.ok(refusals.length >= 1, "goods logs why it refused");
  });

  it("pages purchases the same way, and refuses a page size out of range", async () => {
    for (let goodsid = 1; goodsid <= 3; goodsid++) {
      assert.equal((await call(system, "POST", "/purchases", { userid: 42, goodsid })).body.errorcode, 0);
    }
    const all = await call(system, "GET", "/purchases?userid=42");
    assert.deepEqual(all.body.results.map((row: Json) => row.goodsid), [1, 2, 3], "without paging, as before");
    const page = await call(system, "GET", `/purchases?userid=42&limit=1&after=${all.body.results[0].id}`);
    assert.deepEqual(page.body.results.map((row: Json) => row.goodsid), [2]);
    for (const query of ["limit=0", "limit=1001", "limit=x", "after=y"]) {
      const refused = await call(system, "GET", `/purchases?userid=42&${query}`);
      assert.equal(refused.body.errormessage, "Invalid Parameters", query);
      assert.equal((await call(system, "GET", `/goods?${query}`)).body.errormessage, "Invalid Parameters", query);
    }
  });
});
