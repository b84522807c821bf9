/** The report: every figure of one run as Markdown tables, ratios and goals computed from that run's figures only. */
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import type { CallFigure, CallResult } from "./calls.ts";
import type { Machine } from "./machine.ts";
import type { GrowthResults } from "./mesh-growth.ts";
import type { BenchOptions } from "./options.ts";
import type { LoadResult } from "./wrk.ts";

/** A `GET /goods` figure, with the CPU each process on the request path used meanwhile (1 = one whole core). */
export interface HttpFigure extends LoadResult {
  cpu: Record<string, number>;
}

export interface CodecResult {
  frameBytes: number;
  encodeDecode: number;
  encode: number;
  decode: number;
  /** Requests' worth of tracing per second with no SDK (codec.ts traceOneRequest): 1e9 / this is its ns. */
  tracedRequests?: number;
}

export interface TcpHopResult {
  pipelined: number;
  oneAtATime: number;
}

export interface Results {
  startedAt: Date;
  seconds: number;
  machine: Machine;
  loadGenerator: string;
  options: BenchOptions;
  bodyBytes: number;
  gateway: Partial<Record<RuntimeName, HttpFigure>>;
  /** The same GET /goods with the gateway on two processes sharing its port (`--workers 2`). */
  workers: Partial<Record<RuntimeName, HttpFigure>>;
  /** The same GET /goods through the same system with its mesh over NATS (`--mesh`, a private nats-server). */
  natsGateway: Partial<Record<RuntimeName, HttpFigure>>;
  /** That nats-server's version; or why there are no figures over NATS (none could be started). */
  natsServer?: string;
  natsSkipped?: string;
  /** GET /goods through the gateway with nothing observed, with metrics and the live page, with traces exported. */
  observe: Partial<Record<RuntimeName, ObserveFigures>>;
  bare: Partial<Record<RuntimeName, HttpFigure>>;
  /** GET /goods on Node through Pilcrow and the peers a user would pick instead, each in several rounds. */
  peers: Partial<Record<PeerName, PeerFigures>>;
  growth?: GrowthResults;
  calls: Partial<Record<RuntimeName, CallResult>>;
  codec: Partial<Record<RuntimeName, CodecResult>>;
  tcp: Partial<Record<RuntimeName, TcpHopResult>>;
  /** MiB per process name. */
  rss: Partial<Record<RuntimeName, Record<string, number>>>;
  /** GET and POST /goods through the gateway, per store the services use. */
  stores: Partial<Record<RuntimeName, Partial<Record<StoreKind, StoreFigure>>>>;
}

export interface ObserveFigures {
  /** Two rounds each, alternating: plain, metrics, plain, metrics. */
  plain: HttpFigure[];
  metrics: HttpFigure[];
  exported?: HttpFigure;
}

/**
 * The systems of the peer comparison, all on Node: Pilcrow with its mesh over TCP and over NATS, Moleculer with
 * moleculer-web over its TCP and NATS transporters, NestJS over its TCP transport.
 */
export type PeerName = "pilcrow-tcp" | "pilcrow-nats" | "moleculer-tcp" | "moleculer-nats" | "nestjs-tcp";

export interface PeerFigures {
  /** What it is, with its versions. */
  label: string;
  /** One figure per round, in the order measured. */
  rounds: HttpFigure[];
}

export type StoreKind = "sqlite file" | "sqlite memory" | "mysql";

export interface StoreFigure {
  get: HttpFigure;
  post: HttpFigure;
}

export const STORE_LABELS: Record<StoreKind, string> = {
  "sqlite file": "SQLite file (default)",
  "sqlite memory": "SQLite :memory:",
  mysql: "MySQL",
};

const LABEL: Record<RuntimeName, string> = { node: "Node (tsx)", bun: "Bun", deno: "Deno" };
const PROCESSES = ["distributor", "gate", "goods", "members", "purchases"];

const count = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number) => value.toFixed(2);
const times = (value: number) => `${value.toFixed(2)}×`;
const percent = (value: number) => `${Math.round(value * 100)}%`;
/** A small share, to a tenth of a percent: a cost under 5% must show as more than 0% or 5%. */
const tenths = (value: number) => `${(value * 100).toFixed(1)}%`;
/** The gateway processes of the workers figure (run.ts measures `--workers 2`). */
const WORKERS_SHOWN = 2;
const cpu = (figure: { cpu: Record<string, number> }) =>
  Object.entries(figure.cpu).map(([name, share]) => `${name} ${percent(share)}`).join(" + ");
const requests = (result: LoadResult) =>
  count(result.requestsPerSecond) + (result.errors ? ` (${result.errors} errors)` : "");

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(" | ")} |`;
  return [line(header), `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

function header(results: Results): string {
  const { machine, options } = results;
  const { http } = options;
  const lines = [
    `Pilcrow benchmark, ${results.startedAt.toISOString()} (${Math.round(results.seconds)} s in all)`,
    "",
    `- machine: ${machine.cores} cores, ${machine.cpuModel}, ${
      machine.memoryGiB.toFixed(1)
    } GiB memory, ${machine.kernel}`,
    `- CPU busy just before the run: ${percent(machine.busyBefore)} of all cores`
    + (machine.busyBefore > 0.1 ? " (other work was running: it skews every figure below)" : ""),
    `- code: ${machine.code}`,
    `- runtimes: Node ${machine.runtimes.node}, Bun ${machine.runtimes.bun}, Deno ${machine.runtimes.deno}`,
  ];
  if (options.callsOnly) return [...lines, "- calls between two services only (`--calls-only`)"].join("\n");
  if (options.growthOnly) return [...lines, "- how the mesh's cost grows only (`--growth-only`)"].join("\n");
  return [
    ...lines,
    ...(options.natsOnly ? ["- the gateway over TCP and over NATS only (`--nats-only`)"] : []),
    ...(options.peersOnly ? ["- Pilcrow against its peers on Node only (`--peers-only`)"] : []),
    `- load generator: ${results.loadGenerator}, ${http.threads} thread, ${http.connections} connections (keep-alive), `
    + `${http.warmupSeconds} s warm-up then ${http.seconds} s measured per figure`,
    `- the load generator runs on the same ${machine.cores} cores as the servers it measures: every HTTP figure is what `
    + "the servers get with it competing for CPU",
    "- everything on 127.0.0.1; `GET /goods` answers 10 goods, "
    + `${results.bodyBytes} bytes of JSON; each figure measured once, in this run`
    + (Object.keys(results.peers).length > 0 ? `, but the peers' (in ${options.peerRounds} rounds)` : ""),
  ].join("\n");
}

/** CPU time per request of every process on the request path together, in µs: steadier than req/s on a shared machine. */
function cpuPerRequest(figure: HttpFigure): string {
  const cores = Object.values(figure.cpu).reduce((sum, share) => sum + share, 0);
  return `${(cores / figure.requestsPerSecond * 1e6).toFixed(1)} µs`;
}

function httpSection(results: Results): string {
  const rows: string[][] = [];
  for (const runtime of results.options.runtimes) {
    const bare = results.bare[runtime];
    if (!bare) continue;
    const figures: [string, HttpFigure | undefined][] = [
      ["1", results.gateway[runtime]],
      [String(WORKERS_SHOWN), results.workers[runtime]],
    ];
    for (const [workers, gateway] of figures) {
      if (!gateway) continue;
      rows.push([
        LABEL[runtime],
        workers,
        requests(gateway),
        ms(gateway.p50Ms),
        ms(gateway.p99Ms),
        cpu(gateway),
        cpuPerRequest(gateway),
        percent(gateway.requestsPerSecond / bare.requestsPerSecond),
        times(gateway.p99Ms / bare.p99Ms),
      ]);
    }
    rows.push([
      LABEL[runtime],
      "bare Hono",
      requests(bare),
      ms(bare.p50Ms),
      ms(bare.p99Ms),
      cpu(bare),
      cpuPerRequest(bare),
      "",
      "",
    ]);
  }
  if (rows.length === 0) return "";
  return [
    "GET /goods: through the gateway (whole system on one runtime, embedded store), with its gateway on one process and "
    + `on ${WORKERS_SHOWN} sharing its port (\`--workers ${WORKERS_SHOWN}\`), and from a bare Hono app (the same answer, no hop). `
    + "CPU per request: of every process on the request path together (gateway processes and goods; the bare app).",
    "",
    table(
      [
        "runtime",
        "gateway processes",
        "req/s",
        "p50 ms",
        "p99 ms",
        "CPU (of one core)",
        "CPU per request",
        "req/s / bare",
        "p99 / bare",
      ],
      rows,
    ),
  ].join("\n");
}

function meshesSection(results: Results): string {
  const rows: string[][] = [];
  for (const runtime of results.options.runtimes) {
    const tcp = results.gateway[runtime];
    const nats = results.natsGateway[runtime];
    if (!tcp) continue;
    // Without a nats-server (see the line under the table) the TCP figures are still shown: `--nats-only` has no
    // other table for them.
    const overNats = nats
      ? [...latencyRow(nats), percent(nats.requestsPerSecond / tcp.requestsPerSecond)]
      : ["—", "—", "—", "—", "—"];
    rows.push([LABEL[runtime], ...latencyRow(tcp), ...overNats]);
  }
  const skipped = results.natsSkipped === undefined ? [] : [`No figures over NATS: ${results.natsSkipped}`];
  if (rows.length === 0) return skipped.join("");
  return [
    "GET /goods through the gateway, its mesh over TCP or over NATS: the same gate, goods, members and purchases on "
    + "one runtime and the same store (SQLite file), the gateway reaching goods over a TCP connection (found through "
    + "the distributor, which is off the request path) or over NATS (`--mesh`, no distributor: every request goes "
    + `gate → nats-server → goods and back, through a private nats-server${
      results.natsServer ? ` ${results.natsServer}` : ""
    } that nothing else `
    + "uses, whose CPU is shown with theirs)",
    "",
    table(
      [
        "runtime",
        "over TCP req/s",
        "p50 ms",
        "p99 ms",
        "CPU (of one core)",
        "over NATS req/s",
        "p50 ms",
        "p99 ms",
        "CPU",
        "NATS / TCP",
      ],
      rows,
    ),
    ...skipped.flatMap((line) => ["", line]),
  ].join("\n");
}

/** The mean of the rounds' throughput, and their spread (max/min − 1). */
function roundsOf(figures: HttpFigure[]): { mean: number; spread: number } {
  const rates = figures.map((figure) => figure.requestsPerSecond);
  return {
    mean: rates.reduce((sum, rate) => sum + rate, 0) / rates.length,
    spread: Math.max(...rates) / Math.min(...rates) - 1,
  };
}

function observeSection(results: Results): string {
  const rows: string[][] = [];
  for (const runtime of results.options.runtimes) {
    const figures = results.observe[runtime];
    if (!figures || figures.plain.length === 0 || figures.metrics.length === 0) continue;
    const plain = roundsOf(figures.plain);
    const metrics = roundsOf(figures.metrics);
    const exported = figures.exported;
    rows.push([
      LABEL[runtime],
      `${Math.round(plain.mean).toLocaleString("en")} (±${tenths(plain.spread / 2)})`,
      `${Math.round(metrics.mean).toLocaleString("en")} (±${tenths(metrics.spread / 2)})`,
      tenths(1 - metrics.mean / plain.mean),
      ms(figures.metrics[0].p99Ms),
      exported ? requests(exported) : "—",
      exported ? tenths(1 - exported.requestsPerSecond / plain.mean) : "—",
    ]);
  }
  if (rows.length === 0) return "";
  return [
    "What seeing the mesh costs the gateway's GET /goods: the same system started anew for each round, with nothing "
    + "observed (W3C trace ids are still made and passed on: that cannot be turned off, and costs a fraction of a "
    + "microsecond without an SDK), with `--metrics --dashboard` (no page open), two rounds each, alternating; then "
    + "with every process also exporting its spans over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT) to a sink that keeps "
    + "nothing. The goal: metrics and tracing cost under 5%",
    "",
    table(
      [
        "runtime",
        "plain req/s",
        "metrics + page req/s",
        "cost",
        "p99 ms",
        "traces exported req/s",
        "cost",
      ],
      rows,
    ),
  ].join("\n");
}

function storesSection(results: Results): string {
  const rows: string[][] = [];
  for (const runtime of results.options.runtimes) {
    for (const [kind, figure] of Object.entries(results.stores[runtime] ?? {}) as [StoreKind, StoreFigure][]) {
      rows.push([
        LABEL[runtime],
        STORE_LABELS[kind],
        requests(figure.get),
        ms(figure.get.p50Ms),
        ms(figure.get.p99Ms),
        requests(figure.post),
        ms(figure.post.p50Ms),
        ms(figure.post.p99Ms),
        cpu(figure.post),
      ]);
    }
  }
  if (rows.length === 0) return "";
  return [
    "GET and POST /goods through the gateway, per store (whole system on one runtime; a POST is one INSERT, "
    + "on disk (SQLite: synchronous=FULL) or committed (MySQL) before it is answered)",
    "",
    table(
      ["runtime", "store", "GET req/s", "p50 ms", "p99 ms", "POST req/s", "p50 ms", "p99 ms", "POST CPU"],
      rows,
    ),
  ].join("\n");
}

function callsSection(results: Results): string {
  const { calls } = results.options;
  const figure = (call: CallFigure) => [
    count(call.callsPerSecond) + (call.failures ? ` (${call.failures} failed)` : ""),
    ms(call.p50Ms),
    ms(call.p99Ms),
    cpu(call),
  ];
  const rows: string[][] = [];
  for (const runtime of results.options.runtimes) {
    const result = results.calls[runtime];
    if (result) rows.push([LABEL[runtime], ...figure(result.oneAtATime), ...figure(result.inFlight)]);
  }
  if (rows.length === 0) return "";
  return [
    "Calls between two services (distributor, callee and caller on one runtime): the caller's handler calls the "
    + "callee's route with `context.call` and times each call around it; the callee answers the same 10 goods as "
    + `GET /goods. ${calls.warmupSeconds} s warm-up then ${calls.seconds} s measured per figure`,
    "",
    table([
      "runtime",
      "calls/s (one at a time)",
      "p50 ms",
      "p99 ms",
      "CPU (of one core)",
      `calls/s (${calls.inFlight} in flight)`,
      "p50 ms",
      "p99 ms",
      "CPU",
    ], rows),
  ].join("\n");
}

/** Each peer against Pilcrow over the same kind of mesh. */
const PEER_RIVALS: [PeerName, PeerName][] = [
  ["moleculer-tcp", "pilcrow-tcp"],
  ["nestjs-tcp", "pilcrow-tcp"],
  ["moleculer-nats", "pilcrow-nats"],
];

const PEER_SHORT_NAMES: Record<PeerName, string> = {
  "pilcrow-tcp": "Pilcrow over TCP",
  "pilcrow-nats": "Pilcrow over NATS",
  "moleculer-tcp": "Moleculer over TCP",
  "moleculer-nats": "Moleculer over NATS",
  "nestjs-tcp": "NestJS over TCP",
};

/** The middle value (the mean of the two middle ones for an even count). */
function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The rounds of one peer: the median of each figure, and the range of its throughput. */
function summarizeRounds({ rounds }: PeerFigures) {
  const rates = rounds.map((round) => round.requestsPerSecond);
  const names = Object.keys(rounds[0].cpu);
  return {
    requestsPerSecond: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    errors: rounds.reduce((sum, round) => sum + round.errors, 0),
    p50Ms: median(rounds.map((round) => round.p50Ms)),
    p99Ms: median(rounds.map((round) => round.p99Ms)),
    cpu: Object.fromEntries(names.map((name) => [name, median(rounds.map((round) => round.cpu[name]))])),
  };
}

type PeerSummary = ReturnType<typeof summarizeRounds>;

/** Whether Pilcrow's lead, or its lag, is larger than both systems' spreads: their rounds do not overlap. */
function beyondSpreads(pilcrow: PeerSummary, peer: PeerSummary, peerName: string): string {
  if (pilcrow.min > peer.max) {
    return `ahead by more than the spreads (Pilcrow's slowest round, ${count(pilcrow.min)} req/s, above the `
      + `fastest of ${peerName}, ${count(peer.max)})`;
  }
  if (pilcrow.max < peer.min) {
    return `behind by more than the spreads (Pilcrow's fastest round, ${count(pilcrow.max)} req/s, below the `
      + `slowest of ${peerName}, ${count(peer.min)})`;
  }
  return `within the spreads (the rounds overlap: ${count(pilcrow.min)}–${count(pilcrow.max)} req/s against `
    + `${count(peer.min)}–${count(peer.max)})`;
}

function peersSection(results: Results): string {
  const measured = (Object.keys(PEER_SHORT_NAMES) as PeerName[]).flatMap((name) => {
    const figures = results.peers[name];
    return figures ? [{ name, label: figures.label, rounds: figures.rounds.length, ...summarizeRounds(figures) }] : [];
  });
  if (measured.length === 0) return "";
  const summary = new Map(measured.map((peer) => [peer.name, peer]));
  const rivalOf = new Map(PEER_RIVALS);
  const rows = measured.map((peer) => {
    const rival = rivalOf.get(peer.name);
    const pilcrow = rival && summary.get(rival);
    return [
      peer.label,
      count(peer.requestsPerSecond) + (peer.errors ? ` (${peer.errors} errors)` : ""),
      `${count(peer.min)}–${count(peer.max)}`,
      tenths((peer.max - peer.min) / peer.requestsPerSecond),
      ms(peer.p50Ms),
      ms(peer.p99Ms),
      cpu(peer),
      pilcrow ? times(pilcrow.requestsPerSecond / peer.requestsPerSecond) : "—",
    ];
  });
  const verdicts = PEER_RIVALS.flatMap(([name, rival]) => {
    const peer = summary.get(name);
    const pilcrow = summary.get(rival);
    if (!peer || !pilcrow) return [];
    return [
      `- ${PEER_SHORT_NAMES[rival]} / ${PEER_SHORT_NAMES[name]}: `
      + `${times(pilcrow.requestsPerSecond / peer.requestsPerSecond)} (medians), `
      + beyondSpreads(pilcrow, peer, PEER_SHORT_NAMES[name]),
    ];
  });
  return [
    "GET /goods on Node: Pilcrow against the peers a user would pick instead — Moleculer with moleculer-web, and "
    + "NestJS (an HTTP controller on its default platform, Express, forwarding to a NestJS microservice over its TCP "
    + "transport) — each a gateway and a goods service (Pilcrow: its whole system, goods on the SQLite file; the "
    + `peers keep goods in memory). ${
      measured[0].rounds
    } rounds, each starting every system anew, alternating between them: `
    + "each column is the median of the rounds, beside the range of their req/s and that range as a share of the "
    + "median. Over NATS a NATS server is on the request path too: Pilcrow's private one, whose CPU is shown, and "
    + "Moleculer's at NATS_URL, whose CPU is not",
    "",
    table(
      ["system", "req/s", "rounds' range", "spread", "p50 ms", "p99 ms", "CPU (of one core)", "Pilcrow / this"],
      rows,
    ),
    ...(verdicts.length > 0 ? ["", ...verdicts] : []),
  ].join("\n");
}

function growthSection(results: Results): string {
  const growth = results.growth;
  if (!growth || growth.sizes.length === 0) return "";
  const bytes = (value: number) => count(value);
  const rows = growth.sizes.map(({ nodes, distributor, nats }) => [
    count(nodes),
    ms(distributor.routableMs),
    bytes(distributor.bytesPerChange),
    ms(distributor.cpuMsPerChange ?? NaN),
    nats ? ms(nats.routableMs) : "—",
    nats ? bytes(nats.bytesPerChange) : "—",
    nats ? bytes(nats.wireBytesPerChange) : "—",
    nats ? ms(nats.serverCpuMsPerChange) : "—",
  ]);
  const { rounds, runtime } = results.options.growth;
  const lines = [
    `How the mesh's cost grows: a newcomer joins a mesh of N nodes, simulated in this process (median of ${rounds} `
    + "joins after one that warms up). Routable: from the newcomer's registration (distributor) or announcement "
    + "(NATS) until an observer node, the last to hear, has it connected and answering its ping. Bytes: all the "
    + "registry traffic of one join, every receiver together — over the distributor counted at the nodes' sockets "
    + "(the book's list to the newcomer as it connects and the list with ids once it registers, then one change to "
    + "every other node: Pilcrow nodes take the list by changes, docs/protocol.md §3), over NATS what a private nats-server delivered "
    + "(message payloads from /varz, and every byte it wrote) for the announcement to every node that listens and "
    + "the newcomer's hello answered by every instance. CPU: per change (joins and leaves), the distributor's "
    + `(lib/distributor.ts on ${LABEL[runtime]}, heartbeats off) and the NATS server's (in 10 ms ticks).`,
    "",
    table([
      "nodes",
      "distributor: routable ms",
      "bytes/change",
      "CPU ms/change",
      "NATS: routable ms",
      "bytes/change (payload)",
      "bytes written",
      "server CPU ms/change",
    ], rows),
  ];
  if (growth.natsSkipped) lines.push("", `No NATS figures: ${growth.natsSkipped}`);
  return lines.join("\n");
}

function latencyRow(figure: HttpFigure): string[] {
  return [requests(figure), ms(figure.p50Ms), ms(figure.p99Ms), cpu(figure)];
}

function wireSection(results: Results): string {
  const { options } = results;
  const rows: string[][] = [];
  let frameBytes = 0;
  for (const runtime of options.runtimes) {
    const codec = results.codec[runtime];
    const tcp = results.tcp[runtime];
    if (!codec || !tcp) continue;
    frameBytes = codec.frameBytes;
    rows.push([
      LABEL[runtime],
      count(codec.encodeDecode),
      count(codec.encode),
      count(codec.decode),
      count(tcp.pipelined),
      count(tcp.oneAtATime),
      codec.tracedRequests ? `${Math.round(1e9 / codec.tracedRequests)} ns` : "—",
    ]);
  }
  if (rows.length === 0) return "";
  return [
    `The wire alone: codec in process (a ${frameBytes}-byte packet); TCP hop between two processes on the same runtime `
    + `(PacketClient → listenPackets echo server, the gateway's request packet), ${options.tcpInFlight} in flight and `
    + "one at a time; and what tracing costs one request through the gateway to a service with no SDK registered "
    + "(read and write traceparent, three spans of @opentelemetry/api's no-op tracer, ids made here)",
    "",
    table([
      "runtime",
      "codec encode+decode packets/s",
      "encode only",
      "decode only",
      `TCP hop msg/s (${options.tcpInFlight} in flight)`,
      "round trips/s (one at a time)",
      "tracing per request, no SDK",
    ], rows),
  ].join("\n");
}

function rssSection(results: Results): string {
  const rows: string[][] = [];
  for (const runtime of results.options.runtimes) {
    const rss = results.rss[runtime];
    if (!rss) continue;
    const total = PROCESSES.reduce((sum, name) => sum + rss[name], 0);
    rows.push([LABEL[runtime], ...PROCESSES.map((name) => rss[name].toFixed(1)), total.toFixed(1)]);
  }
  if (rows.length === 0) return "";
  return [
    `Idle memory (VmRSS, MiB) of each process, ${
      results.options.settleMs / 1000
    } s after the system is up, before any load`,
    "",
    table(["runtime", ...PROCESSES, "total"], rows),
  ].join("\n");
}

function goalsSection(results: Results): string {
  const rows: string[][] = [];
  const verdict = (met: boolean) => met ? "met" : "not met";
  for (const runtime of results.options.runtimes) {
    const gateway = results.gateway[runtime];
    const bare = results.bare[runtime];
    if (!gateway || !bare) continue;
    const ratio = gateway.requestsPerSecond / bare.requestsPerSecond;
    rows.push([`gateway ≥ 70% of bare Hono, ${LABEL[runtime]}`, percent(ratio), verdict(ratio >= 0.7)]);
    const tail = gateway.p99Ms / bare.p99Ms;
    rows.push([`gateway p99 ≤ 2× bare Hono's, ${LABEL[runtime]}`, times(tail), verdict(tail <= 2)]);
  }
  for (const [name, rival] of PEER_RIVALS) {
    const peer = results.peers[name];
    const pilcrow = results.peers[rival];
    if (!peer || !pilcrow) continue;
    // Ahead only when the rounds do not overlap: Pilcrow's slowest above the peer's fastest.
    const [ours, theirs] = [summarizeRounds(pilcrow), summarizeRounds(peer)];
    rows.push([
      `${PEER_SHORT_NAMES[rival]} ahead of ${PEER_SHORT_NAMES[name]} by more than the spreads`,
      times(ours.requestsPerSecond / theirs.requestsPerSecond),
      verdict(ours.min > theirs.max),
    ]);
  }
  const node = results.gateway.node;
  for (const runtime of ["bun", "deno"] as const) {
    const gateway = results.gateway[runtime];
    if (!node || !gateway) continue;
    const ratio = gateway.requestsPerSecond / node.requestsPerSecond;
    rows.push([`${LABEL[runtime]} gateway ≥ 1.5× Node's`, times(ratio), verdict(ratio >= 1.5)]);
  }
  const codec = results.codec.node;
  if (codec) {
    rows.push(["codec ≥ 300k packets/s on Node", count(codec.encodeDecode), verdict(codec.encodeDecode >= 300_000)]);
  }
  if (rows.length === 0) return "";
  return ["Goals (from the figures above)", "", table(["goal", "this run", "verdict"], rows)].join("\n");
}

export function renderReport(results: Results): string {
  return [
    header,
    httpSection,
    meshesSection,
    observeSection,
    storesSection,
    callsSection,
    peersSection,
    wireSection,
    rssSection,
    growthSection,
    goalsSection,
  ]
    .map((section) => section(results))
    .filter((text) => text !== "")
    .join("\n\n") + "\n";
}
