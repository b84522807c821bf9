/**
 * `GET /metrics` on a real system (distributor, gateway with `--metrics`, services; and on the NATS mesh): one
 * scrape of the gateway shows the whole mesh — its own counts by route and status, latency, in flight, each
 * instance's counts and readiness, every service's handler and process metrics labelled with its service and
 * instance — as valid Prometheus text. Two instances show as two; a frozen one costs a scrape at most the gather
 * timeout and shows as down; a SIGKILLed one never hangs it; a hostile Pilcrow peer's report (forged names, huge
 * labels, newlines) is left out and counted, the rest of the scrape intact.
 */
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { PONG_URI } from "../lib/wire/heartbeat.ts";
import { BookPeer, registration } from "./support/book-peer.ts";
import { answer, type BookService, startBookService } from "./support/book-service.ts";
import { sharedNats, skipWithoutNats } from "./support/private-nats.ts";
import { eventually, type RunningProcess, startProcess } from "./support/processes.ts";
import { type ParsedText, parsePrometheusText, samplesOf, valueOf } from "./support/prometheus-text.ts";
import {
  call,
  type MeshSystem,
  newMeshName,
  startNatsSystem,
  startSystem,
  type System,
  waitForInstances,
} from "./support/system.ts";

const REQUESTS = 7;

async function scrape(system: MeshSystem): Promise<{ parsed: ParsedText; text: string; tookMs: number }> {
  const startedAt = Date.now();
  const response = await fetch(`${system.url}/metrics`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return { parsed: parsePrometheusText(text), text, tookMs: Date.now() - startedAt };
}

/** One good to list: with none, GET /goods answers errorcode 1 ("no data"), counted as an error. */
async function addGood(system: MeshSystem): Promise<void> {
  const good = { name: "metered", category: "tests", price: 1, description: "d" };
  const response = await call(system, "POST", "/goods", good);
  assert.equal(response.body.errorcode, 0, JSON.stringify(response.body));
}

async function getGoods(system: MeshSystem, count: number): Promise<void> {
  for (let index = 0; index < count; index++) {
    const response = await call(system, "GET", "/goods");
    assert.equal(response.body.errorcode, 0, JSON.stringify(response.body));
  }
}

/** The instance label of a service process: its id in the gateway's pool, `host:port`. */
function instanceOf(parsed: ParsedText, service: RunningProcess): string {
  const found = samplesOf(parsed, "pilcrow_scrape_up").map((sample) => sample.labels.service_instance)
    .filter((instance) => instance.endsWith(`:${service.port}`));
  assert.equal(found.length, 1, `one instance on port ${service.port}: ${JSON.stringify(found)}`);
  return found[0];
}

describe("GET /metrics on the TCP mesh", () => {
  let system: System;
  before(async () => {
    system = await startSystem({ services: ["goods"], gateArgs: ["--metrics", "--heartbeat", "500"] });
    await addGood(system);
  });
  after(() => system?.stop());

  it("shows the gateway's counts, latency and instances, and goods' handler and process metrics", async () => {
    await getGoods(system, REQUESTS);
    const { parsed } = await scrape(system);
    const goods = instanceOf(parsed, system.services.get("goods")!);
    const route = { route: "GET/goods" };
    assert.equal(valueOf(parsed, "pilcrow_gateway_requests_total", { ...route, status: "200" }), REQUESTS);
    assert.equal(valueOf(parsed, "pilcrow_gateway_request_duration_seconds_count", route), REQUESTS);
    assert.equal(
      valueOf(parsed, "pilcrow_gateway_request_duration_seconds_bucket", { ...route, le: "+Inf" }),
      REQUESTS,
    );
    assert.ok(valueOf(parsed, "pilcrow_gateway_request_duration_seconds_sum", route)! > 0);
    assert.equal(valueOf(parsed, "pilcrow_gateway_requests_in_flight", route), 0);
    assert.equal(parsed.types.get("pilcrow_gateway_request_duration_seconds"), "histogram");

    const instance = { service: "goods", service_instance: goods };
    assert.equal(valueOf(parsed, "pilcrow_instance_requests_total", instance), REQUESTS + 1, "the GETs and the POST");
    assert.equal(valueOf(parsed, "pilcrow_instance_errors_total", instance), 0);
    assert.equal(valueOf(parsed, "pilcrow_instance_timeouts_total", instance), 0);
    assert.equal(valueOf(parsed, "pilcrow_instance_ready", { ...instance, health: "ready" }), 1);
    assert.equal(valueOf(parsed, "pilcrow_instances_known", { service: "goods" }), 1);
    assert.equal(valueOf(parsed, "pilcrow_instances_ready", { service: "goods" }), 1);
    assert.equal(valueOf(parsed, "pilcrow_scrape_up", instance), 1);
    assert.equal(valueOf(parsed, "pilcrow_scrape_rejected_samples", instance), 0);

    const handler = { ...instance, route: "GET/goods" };
    assert.equal(valueOf(parsed, "pilcrow_handler_requests_total", handler), REQUESTS);
    assert.equal(valueOf(parsed, "pilcrow_handler_errors_total", handler), 0);
    assert.equal(valueOf(parsed, "pilcrow_handler_duration_seconds_count", handler), REQUESTS);
    assert.equal(valueOf(parsed, "pilcrow_handler_duration_seconds_bucket", { ...handler, le: "+Inf" }), REQUESTS);
    // Process metrics of goods (over the mesh) and of the gateway itself, told apart by their service label.
    assert.ok(valueOf(parsed, "process_cpu_seconds_total", instance)! > 0);
    assert.ok(valueOf(parsed, "process_resident_memory_bytes", instance)! > 1e6);
    assert.ok(valueOf(parsed, "process_resident_memory_bytes", { service: "gate" })! > 1e6);
    assert.equal(samplesOf(parsed, "pilcrow_node_info", instance).length, 1);
  });

  it("counts a route no service serves as other, never by its path", async () => {
    assert.equal((await call(system, "GET", "/no-such-route-7f3a")).status, 404);
    const { parsed, text } = await scrape(system);
    assert.equal(valueOf(parsed, "pilcrow_gateway_requests_total", { route: "other", status: "404" }), 1);
    assert.ok(!text.includes("no-such-route-7f3a"));
  });

  it("counts answers the gateway gives before a body is read: a body too large is a 413 of its route", async () => {
    const tooLarge = { name: "x".repeat(200_000), category: "c", price: 1, description: "d" };
    assert.equal((await call(system, "POST", "/goods", tooLarge)).status, 413);
    const { parsed } = await scrape(system);
    assert.equal(valueOf(parsed, "pilcrow_gateway_requests_total", { route: "POST/goods", status: "413" }), 1);
  });

  it("shows two goods instances; a frozen one is down within the gather timeout; a killed one never hangs it", async () => {
    const second = await system.startService("goods");
    await waitForInstances(system, 2);
    await getGoods(system, 4);
    const { parsed } = await scrape(system);
    const secondId = instanceOf(parsed, second);
    const firstId = instanceOf(parsed, system.services.get("goods")!);
    assert.equal(valueOf(parsed, "pilcrow_instances_known", { service: "goods" }), 2);
    assert.equal(
      samplesOf(parsed, "pilcrow_scrape_up", { service: "goods" }).map((sample) => sample.value).join(),
      "1,1",
    );
    const handled = [firstId, secondId].map((instance) =>
      valueOf(parsed, "pilcrow_handler_requests_total", {
        service: "goods",
        service_instance: instance,
        route: "GET/goods",
      }) ?? 0
    );
    assert.equal(handled[0] + handled[1], REQUESTS + 4, JSON.stringify(handled));
    assert.ok(handled[1] > 0, "round robin sent the second instance some");

    second.signal("SIGSTOP");
    try {
      const frozen = await scrape(system);
      assert.ok(frozen.tookMs < 3000, `a scrape with a frozen instance took ${frozen.tookMs} ms`);
      assert.equal(valueOf(frozen.parsed, "pilcrow_scrape_up", { service_instance: secondId }) ?? 0, 0);
      assert.equal(valueOf(frozen.parsed, "pilcrow_scrape_up", { service_instance: firstId }), 1);
    } finally {
      second.signal("SIGKILL");
    }
    const killed = await scrape(system);
    assert.ok(killed.tookMs < 3000, `a scrape after a SIGKILL took ${killed.tookMs} ms`);
    assert.equal(valueOf(killed.parsed, "pilcrow_scrape_up", { service_instance: firstId }), 1);
    assert.equal(valueOf(killed.parsed, "pilcrow_scrape_up", { service_instance: secondId }) ?? 0, 0);
    // Once the gateway has let it go, it is neither known nor listed.
    await eventually(
      async () => {
        const { parsed } = await scrape(system);
        return valueOf(parsed, "pilcrow_instances_known", { service: "goods" }) === 1 || undefined;
      },
      8000,
      "the killed instance dropped",
    );
  });

  describe("with a hostile Pilcrow peer", () => {
    let hostile: BookService;
    let node: BookPeer;
    before(async () => {
      hostile = await startBookService((packet, socket: Socket) => {
        if (packet.uri === "/_pilcrow/ping") {
          return void socket.write(JSON.stringify({ uri: PONG_URI, key: packet.key }) + "¶");
        }
        if (packet.uri === "/_pilcrow/node") return void socket.write(answer(packet, { report: hostileReport() }));
        socket.write(answer(packet, { hostile: true }));
      });
      node = await BookPeer.connect(system.distributor.port);
      node.send({
        ...registration("hostile", hostile.port, ["GET/hostile"]),
        params: { ...registration("hostile", hostile.port, ["GET/hostile"]).params, pilcrow: 1 },
      });
      await eventually(
        async () => (await call(system, "GET", "/hostile")).status === 200 || undefined,
        10_000,
        "routed",
      );
    });
    after(async () => {
      node?.close();
      await hostile?.close();
    });

    it("leaves out what it forges, counts it, and keeps the rest of the scrape", async () => {
      const { parsed, text } = await scrape(system);
      const instance = `127.0.0.1:${hostile.port}`;
      const labels = {
        service: "hostile",
        service_instance: samplesOf(parsed, "pilcrow_scrape_up", { service: "hostile" })[0]?.labels.service_instance
          ?? instance,
      };
      assert.equal(valueOf(parsed, "pilcrow_scrape_up", labels), 1);
      assert.ok(valueOf(parsed, "pilcrow_scrape_rejected_samples", labels)! >= 5, text);
      // Its one good sample, with its newline escaped and its forged service and instance replaced.
      const kept = samplesOf(parsed, "hostile_ok");
      assert.equal(kept.length, 1, text);
      assert.deepEqual(kept[0].labels, { ...labels, note: "two\nlines \"quoted\"" });
      for (const forged of ["evil_metric", "pilcrow_gateway_requests_total{route=\"forged\"", "x".repeat(300)]) {
        assert.ok(!text.includes(forged), forged.slice(0, 40));
      }
      assert.equal(valueOf(parsed, "pilcrow_scrape_up", { service: "goods" }), 1, "the rest is there");
    });
  });
});

/** A report a broken or hostile service could send: well-formed shell, poisoned metrics. */
function hostileReport() {
  const gauge = (name: string, labels: Record<string, unknown> = {}) => ({
    name,
    help: "h",
    type: "gauge",
    values: [{ value: 1, labels }],
  });
  return {
    name: "hostile",
    runtime: "node",
    version: "1.0.0",
    pid: 1,
    uptimeSeconds: 1,
    memory: { rssBytes: 1, heapUsedBytes: 1 },
    metrics: [
      gauge("hostile_ok", { note: "two\nlines \"quoted\"", service: "goods", service_instance: "forged" }),
      gauge("hostile_bad\nevil_metric"),
      {
        name: "pilcrow_gateway_requests_total",
        help: "",
        type: "counter",
        values: [{ value: 1e9, labels: { route: "forged", status: "200" } }],
      },
      gauge("hostile_huge", { note: "x".repeat(300) }),
      {
        name: "hostile_forged_line",
        help: "",
        type: "gauge",
        values: [{ value: 1, labels: {}, metricName: "evil_metric" }],
      },
      { name: "process_cpu_seconds_total", help: "", type: "histogram", values: [] }, // clashes with the gateway's
      "junk",
    ],
  };
}

describe("GET /metrics on the NATS mesh", { skip: skipWithoutNats }, () => {
  it("shows goods' handler metrics, its instance being its subject", async () => {
    const url = (await sharedNats())!;
    const system = await startNatsSystem({
      nats: { url, name: newMeshName() },
      services: ["goods"],
      gateArgs: ["--metrics"],
    });
    try {
      await addGood(system);
      await getGoods(system, REQUESTS);
      const { parsed } = await scrape(system);
      const up = samplesOf(parsed, "pilcrow_scrape_up", { service: "goods" });
      assert.equal(up.length, 1);
      assert.equal(up[0].value, 1);
      const handler = { service: "goods", service_instance: up[0].labels.service_instance, route: "GET/goods" };
      assert.equal(valueOf(parsed, "pilcrow_handler_requests_total", handler), REQUESTS);
      assert.equal(valueOf(parsed, "pilcrow_gateway_requests_total", { route: "GET/goods", status: "200" }), REQUESTS);
      assert.equal(
        valueOf(parsed, "pilcrow_instance_requests_total", { service_instance: up[0].labels.service_instance }),
        REQUESTS + 1,
      );
    } finally {
      await system.stop();
    }
  });
});

describe("GET /metrics off loopback", () => {
  it("refuses to start without PILCROW_METRICS_TOKEN, or with one short enough to guess, exit 2", async () => {
    for (const env of [{}, { PILCROW_METRICS_TOKEN: "short" }]) {
      const gate = await startProcess("gate.ts", ["0", "--host", "0.0.0.0", "--metrics"], {
        waitForListen: false,
        env,
      });
      assert.equal(await gate.exited, 2, gate.output.join("\n"));
      assert.match(gate.output.join("\n"), /PILCROW_METRICS_TOKEN/);
    }
  });

  it("asks every scrape for the token as a bearer: 401 without it or with another, the text with it", async () => {
    const system = await startSystem({
      services: [],
      gateArgs: ["--host", "0.0.0.0", "--metrics"],
      env: { PILCROW_METRICS_TOKEN: "scrape-token-for-the-test" },
    });
    try {
      const url = `${system.url}/metrics`;
      const refusals: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, {
        authorization: "Basic c2NyYXBl",
      }, {
        authorization: `Bearer ${"x".repeat(10_000)}`,
      }];
      for (const headers of refusals) {
        const response = await fetch(url, { headers });
        await response.body?.cancel();
        assert.equal(response.status, 401, JSON.stringify(headers).slice(0, 80));
        assert.equal(response.headers.get("www-authenticate"), "Bearer");
      }
      const response = await fetch(url, { headers: { authorization: "Bearer scrape-token-for-the-test" } });
      assert.equal(response.status, 200);
      assert.ok(parsePrometheusText(await response.text()).samples.length > 0);
    } finally {
      await system.stop();
    }
  });
});
