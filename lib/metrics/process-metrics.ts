/**
 * A node's process metrics on its own registry: prom-client's default metrics where they work, as the runtime says
 * (lib/runtime/mod.ts PROCESS_METRICS, docs/metrics.md "Runtimes"); elsewhere CPU, memory and heap from
 * node:process, which every runtime answers without a permission.
 */
import process from "node:process";
import { collectDefaultMetrics, Counter, Gauge, type Registry } from "prom-client";
import { PROCESS_METRICS } from "../runtime/mod.ts";

export function startProcessMetrics(registry: Registry): void {
  if (PROCESS_METRICS.kind === "node-process") return startFromNodeProcess(registry);
  collectDefaultMetrics({ register: registry });
  for (const name of PROCESS_METRICS.leftOut) registry.removeSingleMetric(name);
}

/** The same names and meanings as prom-client's, read from node:process alone. */
function startFromNodeProcess(registry: Registry): void {
  const registers = [registry];
  const startedAt = Math.round(Date.now() / 1000 - process.uptime());
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers,
  })
    .set(startedAt);
  const cpu = (name: string, help: string, read: (usage: NodeJS.CpuUsage) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(process.cpuUsage()) / 1e6);
      },
    });
  cpu("process_cpu_user_seconds_total", "Total user CPU time spent in seconds.", (usage) => usage.user);
  cpu("process_cpu_system_seconds_total", "Total system CPU time spent in seconds.", (usage) => usage.system);
  cpu(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    (usage) => usage.user + usage.system,
  );
  const memory = (name: string, help: string, read: (usage: NodeJS.MemoryUsage) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(process.memoryUsage()));
      },
    });
  memory("process_resident_memory_bytes", "Resident memory size in bytes.", (usage) => usage.rss);
  memory("nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes.", (usage) => usage.heapTotal);
  memory("nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.", (usage) => usage.heapUsed);
  memory("nodejs_external_memory_bytes", "Node.js external memory size in bytes.", (usage) => usage.external);
}
