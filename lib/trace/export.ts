/**
 * Exports spans over OTLP/HTTP when the standard OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: the OpenTelemetry SDK and its exporter are loaded then, and only
 * then — a node that exports nothing never loads them. The exporter reads the other OTEL_EXPORTER_OTLP_* settings
 * (headers, timeout) itself. Spans go out in batches; a stop flushes what is left (bounded by the exporter's
 * timeout), so the spans of the last requests are not lost.
 */
import { trace } from "@opentelemetry/api";
import type { Logger } from "../log.ts";
import { environment } from "../runtime/mod.ts";

export interface TraceExport {
  /** Sends what is left and stops exporting. */
  close(): Promise<void>;
}

/** Starts exporting this node's spans as `serviceName`, if an endpoint is set; undefined otherwise. */
export async function startTraceExport(serviceName: string, log: Logger): Promise<TraceExport | undefined> {
  const endpoint = environment("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ?? environment("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (!endpoint) return undefined;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise
    .all([
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
    ]);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  if (!trace.setGlobalTracerProvider(provider)) {
    log.warn("traces not exported", "another tracer provider is registered in this process");
    await provider.shutdown();
    return undefined;
  }
  log.info("exporting traces", endpoint);
  return {
    async close() {
      try {
        await provider.shutdown();
      } catch (error) {
        log.warn("trace export failed at stop", (error as Error).message);
      }
      trace.disable();
    },
  };
}
