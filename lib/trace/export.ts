/**
 * Exports spans over OTLP/HTTP when the standard OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: the OpenTelemetry SDK and its exporter are loaded then, and only
 * then — a node that exports nothing never loads them. The exporter reads the other OTEL_EXPORTER_OTLP_* settings
 * (headers, timeout) itself. Spans go out in batches; a stop flushes what is left (bounded by the exporter's
 * timeout), so the spans of the last requests are not lost.
 */
import { diag, type DiagLogger, DiagLogLevel, trace } from "@opentelemetry/api";
import { UsageError } from "../config.ts";
import type { Logger } from "../log.ts";
import { environment } from "../runtime/mod.ts";

export interface TraceExport {
  /** Sends what is left and stops exporting. */
  close(): Promise<void>;
}

/** Starts exporting this node's spans as `serviceName`, if an endpoint is set; undefined otherwise. */
export async function startTraceExport(serviceName: string, log: Logger): Promise<TraceExport | undefined> {
  const variable = environment("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") === undefined
    ? "OTEL_EXPORTER_OTLP_ENDPOINT"
    : "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
  const endpoint = environment(variable);
  if (!endpoint) return undefined;
  const shown = shownEndpoint(endpoint);
  if (shown === undefined) throw new UsageError(`${variable} must be an http:// or https:// URL`);
  // The SDK reports what goes wrong (a collector away, an export refused) through its diagnostic logger, which says
  // nothing unless one is set: spans would be lost in silence.
  diag.setLogger(diagnostics(log), DiagLogLevel.WARN);
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
  log.info("exporting traces", shown);
  return {
    async close() {
      try {
        await provider.shutdown();
      } catch (error) {
        log.warn("trace export failed at stop", (error as Error).message);
      }
      trace.disable();
      diag.disable();
    },
  };
}

/**
 * The endpoint as a log line may show it: scheme, host, port and path, never credentials in it (user:password@, or
 * an API key in the query); undefined when it is no http(s) URL.
 */
function shownEndpoint(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** The SDK's warnings and errors as the node's own warn lines (one event, so the log's rate limit holds them). */
function diagnostics(log: Logger): DiagLogger {
  const warn = (message: string) => log.warn("trace export failed", errorMessage(message));
  const ignore = () => {};
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore };
}

/** The SDK hands an error over as its JSON text: its message is what a reader needs. */
function errorMessage(text: string): string {
  if (!text.startsWith("{")) return text;
  try {
    const { message } = JSON.parse(text) as { message?: unknown };
    return typeof message === "string" ? message : text;
  } catch {
    return text;
  }
}
