/**
 * The options of every command, in one place: each process parses its own table, and the launcher accepts the
 * children's options too and passes each one to the processes that take it.
 */
import type { OptionTable } from "./options.ts";

/**
 * The mesh over NATS (lib/mesh/nats/settings.ts), part of every process's options. Named `--nats-*` because the
 * TCP mesh's `--tls-*` and `--secret-file` stay in use beside them (a gateway on both meshes). A password or token
 * is taken from a file or the environment only, never from a flag: `ps` shows every process's arguments. The
 * launcher passes these to its children in the environment (lib/launcher/plan.ts).
 */
export const NATS_OPTIONS: OptionTable = [
  {
    name: "mesh",
    value: "nats://HOST:PORT[,…]",
    env: "PILCROW_MESH",
    description: "join the mesh over these NATS servers (no distributor needed); tls://… for TLS",
  },
  {
    name: "mesh-name",
    value: "NAME",
    env: "PILCROW_MESH_NAME",
    default: "pilcrow",
    description: "the mesh's name on NATS: the first token of its subjects",
  },
  { name: "nats-user", value: "NAME", env: "PILCROW_NATS_USER", description: "the NATS user (with a password)" },
  {
    name: "nats-password-file",
    value: "PATH",
    env: "PILCROW_NATS_PASSWORD (the password itself)",
    description: "the NATS user's password",
  },
  {
    name: "nats-token-file",
    value: "PATH",
    env: "PILCROW_NATS_TOKEN (the token itself)",
    description: "a NATS token, instead of a user",
  },
  {
    name: "nats-creds",
    value: "PATH",
    env: "PILCROW_NATS_CREDS",
    description: "a NATS creds file (user JWT and seed)",
  },
  {
    name: "nats-tls-ca",
    value: "PATH",
    env: "PILCROW_NATS_TLS_CA",
    description: "the CA of the NATS servers' certificates",
  },
  {
    name: "nats-tls-cert",
    value: "PATH",
    env: "PILCROW_NATS_TLS_CERT",
    description: "a client certificate for NATS (mutual TLS)",
  },
  { name: "nats-tls-key", value: "PATH", env: "PILCROW_NATS_TLS_KEY", description: "that certificate's key" },
];

/** Every process: the distributor, the gateway and the services. */
export const COMMON_OPTIONS: OptionTable = [
  {
    name: "port",
    short: "p",
    value: "N",
    description: "listen port, or the first plain argument; 0 picks a free one, reported on the listen line",
  },
  { name: "host", value: "ADDR", default: "127.0.0.1", description: "bind address" },
  {
    name: "distributor",
    value: "HOST:PORT",
    env: "PILCROW_DISTRIBUTOR",
    default: "127.0.0.1:9000",
    description: "where the distributor is",
  },
  { name: "log", value: "human|json", env: "PILCROW_LOG", default: "human", description: "log format" },
  {
    name: "log-level",
    value: "debug|info|warn|error",
    env: "PILCROW_LOG_LEVEL",
    default: "info",
    description: "the least severe lines written",
  },
  {
    name: "heartbeat",
    value: "MS",
    env: "PILCROW_HEARTBEAT_MS",
    default: "2000",
    description: "heartbeat interval of the distributor and the gateway; 0: off",
  },
  { name: "secret-file", value: "PATH", env: "PILCROW_SECRET (the secret itself)", description: "the mesh secret" },
  { name: "tls-cert", value: "PATH", env: "PILCROW_TLS_CERT", description: "this node's certificate (mutual TLS)" },
  { name: "tls-key", value: "PATH", env: "PILCROW_TLS_KEY", description: "this node's private key" },
  { name: "tls-ca", value: "PATH", env: "PILCROW_TLS_CA", description: "the CA that signs every node of the mesh" },
  ...NATS_OPTIONS,
];

/** The gateway and the services: the nodes of the mesh (the distributor is its registry, not in it). */
export const MESH_NODE_OPTIONS: OptionTable = [
  {
    name: "log-to-mesh",
    env: "PILCROW_LOG_TO_MESH=1",
    description: "also send log lines to the logs service, when one is in the mesh (never waits for it)",
  },
];

export const GATE_OPTIONS: OptionTable = [
  {
    name: "timeout",
    value: "MS",
    env: "PILCROW_TIMEOUT_MS",
    default: "5000",
    description: "how long to wait for a service before answering 504",
  },
  { name: "body-limit", value: "BYTES", default: "131072", description: "largest request body before 413" },
  { name: "status", env: "PILCROW_STATUS=1", description: "serve GET /_pilcrow/status" },
  {
    name: "metrics",
    env: "PILCROW_METRICS=1",
    description: "serve GET /metrics: the whole mesh's metrics in Prometheus's text format",
  },
  {
    name: "dashboard",
    env: "PILCROW_DASHBOARD=1",
    description: "serve the live page at /_pilcrow/ (off loopback it asks for PILCROW_DASHBOARD_TOKEN, or one it logs)",
  },
  { name: "cors", value: "ORIGIN[,ORIGIN…]|*", env: "PILCROW_CORS", description: "origins allowed by CORS" },
  {
    name: "workers",
    value: "N",
    env: "PILCROW_WORKERS",
    default: "1",
    description: "gateway processes serving the port, each a member of the mesh (at most 256)",
  },
];

export const SERVICE_OPTIONS: OptionTable = [
  {
    name: "data-dir",
    value: "PATH|:memory:",
    env: "PILCROW_DATA_DIR",
    default: "./data",
    description:
      "where the embedded store keeps <service>.sqlite, shared by every instance; :memory: (tests) loses it at exit",
  },
  {
    name: "drain",
    value: "MS",
    env: "PILCROW_DRAIN_MS",
    default: "5000",
    description: "how long a stop waits for gateways to let go",
  },
  {
    name: "idempotency-window",
    value: "MS",
    env: "PILCROW_IDEMPOTENCY_WINDOW_MS",
    default: "86400000",
    description: "how long an Idempotency-Key is remembered (24 h)",
  },
  {
    name: "max-in-flight",
    value: "N",
    env: "PILCROW_MAX_IN_FLIGHT",
    default: "1024",
    description: "requests handled at once; beyond it each is refused as busy (503)",
  },
];

/** The launcher's own options; it also takes every option above but --port and --distributor (see plan.ts). */
export const LAUNCHER_OPTIONS: OptionTable = [
  { name: "runtime", value: "node|bun|deno", default: "the launcher's own", description: "the children's runtime" },
  {
    name: "instances",
    value: "SERVICE=N[,SERVICE=N…]",
    multiple: true,
    description: "more instances of a service, on the next ports (9011, 9012…)",
  },
  { name: "distributor-port", value: "N", default: "9000", description: "the distributor's port" },
  { name: "gate-port", value: "N", default: "8000", description: "the gateway's port" },
  {
    name: "ports",
    value: "free",
    description: "every process on a port the system chooses (the real ones are printed)",
  },
  {
    name: "service",
    value: "FILE",
    multiple: true,
    description: "also run this service file (yours, resolved from the current directory) under the launcher",
  },
  {
    name: "ready-timeout",
    value: "MS",
    default: "30000",
    description: "how long a process may take to be ready before the launcher gives up",
  },
];

export const CLIENT_OPTIONS: OptionTable = [
  { name: "host", value: "HOST", description: "the gateway's host (overrides BASE_URL's)" },
  { name: "port", value: "N", description: "the gateway's port (overrides BASE_URL's)" },
];
