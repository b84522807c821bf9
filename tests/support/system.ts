/** A whole Pilcrow system of real processes on free ports, for end-to-end tests. */
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import {
  removeDataDir,
  type RunningProcess,
  type StartOptions,
  startProcess,
  stopAll,
  temporaryDataDir,
  testRuntime,
} from "./processes.ts";

/** Which runtime runs each role, and which TCP and HTTP implementations they use. */
export interface Mesh {
  label: string;
  distributor: RuntimeName;
  gate: RuntimeName;
  services: RuntimeName;
  /** PILCROW_TCP / PILCROW_HTTP for every process: "node" forces node:net / @hono/node-server. */
  tcp?: "native" | "node";
  http?: "native" | "node";
}

/** Every process on the runtime under test, with its own TCP and HTTP APIs. */
export function uniformMesh(runtime: RuntimeName = testRuntime()): Mesh {
  return { label: `all ${runtime}`, distributor: runtime, gate: runtime, services: runtime };
}

/** A system on either mesh: its gateway and services. */
export interface MeshSystem {
  gate: RunningProcess;
  services: Map<string, RunningProcess>;
  /** Base URL of the gateway. */
  url: string;
  /** Where every service of this system keeps its SQLite file, extra instances too (options.dataDir, or a new one). */
  dataDir: string;
  all(): RunningProcess[];
  /**
   * Starts another instance of a service (on a free port unless one is given), on the system's data directory
   * unless another is given (`:memory:`: a store of its own, to tell the instances apart).
   */
  startService(name: string, port?: number, dataDir?: string): Promise<RunningProcess>;
  stop(): Promise<void>;
}

/** A system on the TCP mesh, with its distributor. */
export interface System extends MeshSystem {
  distributor: RunningProcess;
}

/** Where a system on the NATS mesh meets: the server and a mesh name of its own (its subjects' prefix). */
export interface NatsMeshPlace {
  url: string;
  name: string;
}

/** A new mesh name: tests on one NATS server never see each other's instances. */
export function newMeshName(): string {
  return `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

export interface SystemOptions extends StartOptions {
  services?: string[];
  gateArgs?: string[];
  distributorArgs?: string[];
  /** Runtimes per role; overrides `runtime`. */
  mesh?: Mesh;
}

function roleOptions(options: SystemOptions, role: "distributor" | "gate" | "services"): StartOptions {
  const mesh = options.mesh;
  if (!mesh) return options;
  const env = { PILCROW_TCP: mesh.tcp ?? "native", PILCROW_HTTP: mesh.http ?? "native", ...options.env };
  return { ...options, runtime: mesh[role], env };
}

/**
 * Its services share one data directory, as a machine's do: the test's own (options.dataDir), or a new empty one
 * that stop() removes.
 */
export async function startSystem(givenOptions: SystemOptions = {}): Promise<System> {
  const distributor = await startProcess(
    "distributor.ts",
    ["0", ...(givenOptions.distributorArgs ?? [])],
    roleOptions(givenOptions, "distributor"),
  );
  try {
    const system = await startNodes(givenOptions, ["--distributor", `127.0.0.1:${distributor.port}`]);
    return {
      ...system,
      distributor,
      all: () => [distributor, ...system.all()],
      async stop() {
        await system.stop();
        await stopAll([distributor]);
      },
    };
  } catch (error) {
    await stopAll([distributor]);
    throw error;
  }
}

/** The same system on the NATS mesh: no distributor; every node is given `--mesh` and the mesh's name. */
export function startNatsSystem(options: SystemOptions & { nats: NatsMeshPlace }): Promise<MeshSystem> {
  const env = { ...options.env, PILCROW_MESH_NAME: options.nats.name };
  return startNodes({ ...options, env }, ["--mesh", options.nats.url]);
}

async function startNodes(givenOptions: SystemOptions, meshArgs: string[]): Promise<MeshSystem> {
  const ownDataDir = givenOptions.dataDir === undefined ? temporaryDataDir() : undefined;
  const options = { ...givenOptions, dataDir: givenOptions.dataDir ?? ownDataDir! };
  const names = options.services ?? ["goods", "members", "purchases"];
  const extra: RunningProcess[] = [];
  const startService = async (name: string, port = 0, dataDir = options.dataDir) => {
    const service = await startProcess(`${name}.ts`, [String(port), ...meshArgs], {
      ...roleOptions(options, "services"),
      dataDir,
    });
    extra.push(service);
    return service;
  };
  const [gate, ...services] = await Promise.all([
    startProcess("gate.ts", ["0", ...meshArgs, ...(options.gateArgs ?? [])], roleOptions(options, "gate")),
    ...names.map((name) => startProcess(`${name}.ts`, ["0", ...meshArgs], roleOptions(options, "services"))),
  ]);
  const system: MeshSystem = {
    gate,
    services: new Map(names.map((name, index) => [name, services[index]])),
    url: `http://127.0.0.1:${gate.port}`,
    dataDir: options.dataDir,
    all: () => [gate, ...services, ...extra],
    startService,
    async stop() {
      await stopAll([...services, ...extra, gate]);
      if (ownDataDir !== undefined) removeDataDir(ownDataDir);
    },
  };
  await waitForInstances(system, names.length);
  return system;
}

/** Waits until the gateway has connected to `count` service instances in all (counted from its log). */
export async function waitForInstances(system: MeshSystem, count: number, from = 0): Promise<void> {
  await system.gate.waitFor(() =>
    system.gate.entries.slice(from).filter((entry) => entry.event === "instance connected").length >= count
  );
}

// deno-lint-ignore no-explicit-any
export type Json = any;

export async function call(
  system: MeshSystem,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<{ status: number; body: Json }> {
  const response = await fetch(system.url + path, {
    method,
    headers: body === undefined ? {} : headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Json = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON: the test will say so */ }
  return { status: response.status, body: parsed };
}

/** docs/protocol.md §6: the book's API client's requests, in order. */
export const SPEC_FLOW: [method: string, path: string, body?: unknown][] = [
  ["DELETE", "/members?username=test_account"],
  ["POST", "/members", { username: "test_account", password: "1234", passwordConfirm: "1234" }],
  ["GET", "/members?username=test_account&password=1234"],
  ["POST", "/goods", { name: "test Goods", category: "tests", price: 1000, description: "test" }],
  ["GET", "/goods"],
  ["DELETE", "/goods?id=1"],
  ["POST", "/purchases", { userid: 1, goodsid: 1 }],
  ["GET", "/purchases?userid=1"],
];

/** Runs the docs/protocol.md §6 flow through the gateway; every answer must be HTTP 200. Returns the bodies. */
export async function runSpecFlow(system: MeshSystem): Promise<Json[]> {
  const bodies: Json[] = [];
  for (const [method, path, body] of SPEC_FLOW) {
    const response = await call(system, method, path, body);
    if (response.status !== 200) {
      throw new Error(`${method} ${path}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
    }
    bodies.push(response.body);
  }
  return bodies;
}
