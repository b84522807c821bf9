/**
 * The live page (issue 16, parts 4 and 5) on a real gateway started with --dashboard and real services: over HTTP
 * (the page and its headers, the event stream's JSON snapshots, the token, the bound on open streams, malformed
 * input), then in a real browser (Debian's Chromium): the page sees the goods instance, the request count rise, an
 * instance SIGKILLed shown gone or not ready within 3 s, "disconnected, retrying" when the gateway dies, and no
 * sideways scrolling on a phone.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_EVENT_STREAMS } from "../lib/dashboard/events.ts";
import type { NodeView, Snapshot } from "../lib/dashboard/snapshot.ts";
import { openBrowser, skipWithoutChromium, type TestBrowser } from "./support/browser.ts";
import { eventually } from "./support/processes.ts";
import { startSystem, type System, waitForInstances } from "./support/system.ts";

const SLOW = { timeout: 60_000 };
const TOKEN = "s3cret-token-for-the-test";

/** An open event stream, read one snapshot at a time. */
interface EventStream {
  response: Response;
  next(): Promise<Snapshot>;
  close(): void;
}

async function openEvents(url: string, headers: Record<string, string> = {}, query = ""): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(`${url}/_pilcrow/events${query}`, { headers, signal: controller.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    response,
    async next() {
      for (;;) {
        const end = buffered.indexOf("\n\n");
        if (end >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = event.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6));
          if (data.length > 0) return JSON.parse(data.join("\n"));
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the event stream ended");
        buffered += value;
      }
    },
    close: () => controller.abort(),
  };
}

function goodsNodes(snapshot: Snapshot): NodeView[] {
  return snapshot.nodes.filter((node) => node.name === "goods");
}

describe("live page over HTTP, no token (loopback)", () => {
  let system: System;
  before(async () => {
    system = await startSystem({ services: ["goods"], gateArgs: ["--dashboard"] });
  });
  after(() => system?.stop());

  it("serves the page, its script and style, with a strict policy and nothing inline", async () => {
    const page = await fetch(`${system.url}/_pilcrow/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    const policy = page.headers.get("content-security-policy") ?? "";
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /script-src 'self';/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    assert.equal(page.headers.get("cache-control"), "no-store");
    const html = await page.text();
    assert.match(html, /<script src="page\.js" defer><\/script>/);
    assert.doesNotMatch(html, /<script>|<style>|https?:\/\//, "nothing inline, nothing from elsewhere");
    assert.match(html, /name="viewport" content="width=device-width/);

    const script = await fetch(`${system.url}/_pilcrow/page.js`);
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(await script.text(), /new EventSource\("events"\)/);
    const style = await fetch(`${system.url}/_pilcrow/page.css`);
    assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
    assert.match(await style.text(), /@media \(max-width/);

    const bare = await fetch(`${system.url}/_pilcrow`, { redirect: "manual" });
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get("location"), "/_pilcrow/");
  });

  it("streams a JSON snapshot at once, then one a second: the gateway, the goods instance, its routes", async () => {
    const startedAt = Date.now();
    const events = await openEvents(system.url);
    try {
      assert.equal(events.response.status, 200);
      assert.equal(events.response.headers.get("content-type"), "text/event-stream");
      const first = await events.next();
      assert.ok(Date.now() - startedAt < 900, `the first snapshot came after ${Date.now() - startedAt} ms`);
      const gateway = first.nodes[0];
      assert.equal(gateway.kind, "gateway");
      assert.equal(gateway.id, `127.0.0.1:${system.gate.port}`);
      const [goods] = goodsNodes(first);
      assert.equal(goods.id, `127.0.0.1:${system.services.get("goods")!.port}`);
      assert.equal(goods.kind, "pilcrow");
      assert.equal(goods.health, "ready");
      const route = first.routes.find((view) => view.route === "GET/goods");
      assert.deepEqual(route?.instances, [{ id: goods.id, name: "goods", health: "ready" }]);
      assert.deepEqual(first.totals.instances, 1);
      assert.deepEqual(first.totals.ready, 1);

      const before = goods.requests!;
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${system.url}/goods`)).status, 200);
      const second = await events.next();
      assert.ok(second.at - first.at >= 500 && second.at - first.at <= 2500, `${second.at - first.at} ms apart`);
      assert.equal(goodsNodes(second)[0].requests, before + 3);
    } finally {
      events.close();
    }
  });

  it("lets the gateway stop at once with a page open: its stream ends, exit 0", async () => {
    const own = await startSystem({ services: [], gateArgs: ["--dashboard"] });
    try {
      const events = await openEvents(own.url);
      await events.next();
      const stoppingAt = Date.now();
      // A grace far past the 2 s asked of it: a gateway held by the stream would be killed, not exit 0.
      assert.equal(await own.gate.stop(8000), 0);
      assert.ok(Date.now() - stoppingAt < 2000, `stopped after ${Date.now() - stoppingAt} ms`);
      await assert.rejects(events.next());
    } finally {
      await own.stop();
    }
  });

  it(`answers 503 past ${MAX_EVENT_STREAMS} open streams, and a closed one frees its place`, SLOW, async () => {
    const open: EventStream[] = [];
    try {
      /** A new stream, once there is room: the server may not have seen an earlier test's stream close yet. */
      const opened = () =>
        eventually(
          async () => {
            const events = await openEvents(system.url);
            if (events.response.status === 200) return events;
            events.close();
            return undefined;
          },
          5000,
          "room for another stream",
        );
      for (let i = 0; i < MAX_EVENT_STREAMS; i++) {
        const events = await opened();
        await events.next();
        open.push(events);
      }
      const refused = await fetch(`${system.url}/_pilcrow/events`);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "5");
      assert.match(await refused.text(), /too many live pages/);
      // The page itself is still served.
      assert.equal((await fetch(`${system.url}/_pilcrow/`)).status, 200);

      open.pop()!.close();
      const again = await opened();
      open.push(again);
      assert.equal(goodsNodes(await again.next()).length, 1);
    } finally {
      for (const events of open) events.close();
    }
  });
});

describe("live page with a token", () => {
  let system: System;
  before(async () => {
    system = await startSystem({
      services: ["goods"],
      gateArgs: ["--dashboard"],
      env: { PILCROW_DASHBOARD_TOKEN: TOKEN },
    });
  });
  after(() => system?.stop());

  const paths = ["/_pilcrow/", "/_pilcrow/page.js", "/_pilcrow/page.css", "/_pilcrow/events"];

  it("answers 401 on every dashboard path without the token, or with a wrong one", async () => {
    for (const path of paths) {
      for (const query of ["", "?token=wrong", `?token=${TOKEN}x`, "?token="]) {
        const response = await fetch(`${system.url}${path}${query}`, { redirect: "manual" });
        assert.equal(response.status, 401, `${path}${query}`);
        assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
        assert.match(await response.text(), /needs its token/);
        assert.equal(response.headers.get("set-cookie"), null);
      }
    }
    // The rest of the gateway is not behind the token.
    assert.equal((await fetch(`${system.url}/goods`)).status, 200);
  });

  it("takes ?token= once: sets an HttpOnly SameSite=Strict cookie and drops it from the URL", async () => {
    const given = await fetch(`${system.url}/_pilcrow/?token=${encodeURIComponent(TOKEN)}`, { redirect: "manual" });
    assert.equal(given.status, 303);
    assert.equal(given.headers.get("location"), "/_pilcrow/");
    const cookie = given.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^pilcrow_dashboard=[^;]+; Path=\/_pilcrow\/; HttpOnly; SameSite=Strict$/);
    const pair = cookie.split(";")[0];

    for (const path of paths.slice(0, 3)) {
      const response = await fetch(`${system.url}${path}`, { headers: { cookie: `other=1; ${pair}` } });
      assert.equal(response.status, 200, path);
      await response.body?.cancel();
    }
    const events = await openEvents(system.url, { cookie: pair });
    try {
      assert.equal(events.response.status, 200);
      assert.equal(goodsNodes(await events.next()).length, 1);
    } finally {
      events.close();
    }
    // A script (curl, a monitor) may give the token in the URL of the stream itself.
    const direct = await openEvents(system.url, {}, `?token=${TOKEN}`);
    try {
      assert.equal(direct.response.status, 200);
      assert.match(direct.response.headers.get("set-cookie") ?? "", /^pilcrow_dashboard=/);
      assert.equal(goodsNodes(await direct.next()).length, 1);
    } finally {
      direct.close();
    }
  });

  it("refuses malformed tokens and cookies with 401, never a 5xx", async () => {
    const long = "x".repeat(4000); // past any token, under the servers' limit on a request line
    const queries = [
      `?token=${TOKEN}&token=${TOKEN}`, // two: which one? neither
      `?token=${long}`,
      "?token=%ZZ",
      "?token=%00",
      `?token=${encodeURIComponent("ü€\u{1F600}")}`,
      `?token[]=${TOKEN}`,
    ];
    for (const query of queries) {
      const response = await fetch(`${system.url}/_pilcrow/${query}`, { redirect: "manual" });
      assert.equal(response.status, 401, query.slice(0, 40));
      await response.body?.cancel();
    }
    const cookies = [
      "pilcrow_dashboard=%E0%A4%A",
      "pilcrow_dashboard",
      "pilcrow_dashboard=",
      `pilcrow_dashboard=${TOKEN}x`,
      `pilcrow_dashboard=${"y".repeat(6000)}`,
      ";;;=;=",
      `pilcrow_dashboard2=${TOKEN}`,
      `xpilcrow_dashboard=${TOKEN}`,
    ];
    for (const cookie of cookies) {
      const response = await fetch(`${system.url}/_pilcrow/`, { headers: { cookie } });
      assert.equal(response.status, 401, cookie.slice(0, 40));
      await response.body?.cancel();
    }
    // Still up, and the right token still works.
    const right = await fetch(`${system.url}/_pilcrow/`, { headers: { cookie: `pilcrow_dashboard=${TOKEN}` } });
    assert.equal(right.status, 200);
    await right.body?.cancel();
  });
});

describe("live page in a real browser", { skip: skipWithoutChromium, timeout: 90_000 }, () => {
  let system: System;
  let browser: TestBrowser;
  before(async () => {
    system = await startSystem({ services: ["goods", "members"], gateArgs: ["--dashboard"] });
    browser = await openBrowser();
  });
  after(async () => {
    await browser?.close();
    await system?.stop();
  });

  it("sees the goods instance, the request count rise, a SIGKILLed instance go within 3 s", async () => {
    const from = system.gate.entries.length;
    const second = await system.startService("goods");
    await waitForInstances(system, 1, from);
    const secondId = `127.0.0.1:${second.port}`;

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    await page.goto(`${system.url}/_pilcrow/`);
    await page.waitForSelector(`#nodes tr[data-name="goods"][data-node="${secondId}"][data-health="ready"]`);
    assert.equal(await page.textContent("#connection"), "live");
    assert.equal(await page.locator("#nodes tr[data-name=\"goods\"]").count(), 2);
    assert.equal(await page.locator(`#routes tr[data-route="GET/goods"] .chip[data-health="ready"]`).count(), 2);

    /** Requests the page says the gateway sent to the goods instances (from the mesh's own counts). */
    const goodsRequests = async () => {
      const cells = await page.locator("#nodes tr[data-name=\"goods\"] td.requests").allTextContents();
      return cells.reduce((total, text) => total + Number(text.replaceAll(",", "")), 0);
    };
    const before = await goodsRequests();
    for (let i = 0; i < 6; i++) assert.equal((await fetch(`${system.url}/goods`)).status, 200);
    await eventually(async () => (await goodsRequests()) === before + 6 || undefined, 3000, "the count to rise by 6");

    second.signal("SIGKILL");
    const killedAt = Date.now();
    // Rows are redrawn from each snapshot: the ready row of the killed instance goes when it is gone or not ready.
    await page.waitForSelector(`#nodes tr[data-node="${secondId}"][data-health="ready"]`, {
      state: "detached",
      timeout: 5000,
    });
    const shownAfter = Date.now() - killedAt;
    assert.ok(shownAfter <= 3000, `the killed instance was shown gone or not ready after ${shownAfter} ms`);
    assert.equal(await page.locator(`#routes .chip[data-instance="${secondId}"][data-health="ready"]`).count(), 0);
    assert.equal(await page.locator("#nodes tr[data-name=\"goods\"][data-health=\"ready\"]").count(), 1);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("fits a phone: no sideways scrolling at 375×667", async () => {
    const page = await browser.newPage({ width: 375, height: 667 });
    await page.goto(`${system.url}/_pilcrow/`);
    await page.waitForSelector("#nodes tr[data-name=\"members\"]");
    const width = await page.evaluate(() =>
      // deno-lint-ignore no-explicit-any
      (globalThis as any).document.documentElement.scrollWidth as number
    );
    assert.ok(width <= 375, `the page is ${width} px wide`);
    await page.close();
  });

  it("says \"disconnected, retrying\" when the gateway goes away", async () => {
    const page = await browser.newPage();
    await page.goto(`${system.url}/_pilcrow/`);
    await page.waitForSelector("#connection[data-state=\"live\"]");
    system.gate.signal("SIGKILL");
    await page.waitForSelector("#connection[data-state=\"retrying\"]", { timeout: 5000 });
    assert.equal(await page.textContent("#connection"), "disconnected, retrying");
    await page.close();
  });
});
