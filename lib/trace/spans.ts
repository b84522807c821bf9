/**
 * Spans through @opentelemetry/api: the gateway's request, each mesh hop, each handler, each call and each store
 * statement. With no SDK registered no span object is made at all (the API's no-op would cost more than the rest
 * of tracing together); the trace ids still flow (this node makes its own span ids then), so log lines and answers
 * carry them either way.
 * With an SDK (export.ts, or the user's own), the spans are its, parented across processes by `traceparent`.
 *
 * A store statement does not know the request it runs for: the handler's span is made the active one for the
 * handler's async work (AsyncLocalStorage, on every runtime) — only while an SDK records, so that tracing off
 * costs nothing there either.
 */
import {
  type Attributes,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { AsyncLocalStorage } from "node:async_hooks";
import { newTrace, type TraceContext, traceContext } from "./traceparent.ts";

export { SpanKind };

/** The API's no-op provider, which its global proxy delegates to until an SDK is registered. */
const NO_SDK = new ProxyTracerProvider().getDelegate();

/** The tracer of the SDK registered now, made once per provider; undefined with none (the common case). */
let sdk: { provider: TracerProvider; tracer: Tracer } | undefined;

function sdkTracer(): Tracer | undefined {
  const global = trace.getTracerProvider();
  // Another copy of the API (a user's own) is not ours to see through: its tracer is asked as it is.
  const provider = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  if (provider === NO_SDK) return undefined;
  if (sdk?.provider !== provider) sdk = { provider, tracer: provider.getTracer("pilcrow") };
  return sdk.tracer;
}

/**
 * Whether an SDK is registered now: only then is a span's name or attributes worth working out (the gateway's
 * route for a span's name, say).
 */
export function recording(): boolean {
  return sdkTracer() !== undefined;
}

/** One span: the trace context to send on (its own span id) and the SDK's span to end, when one records. */
export interface OpenSpan {
  readonly context: TraceContext;
  readonly span?: Span;
}

/**
 * Opens a span under `parent` (the trace context that came in, or this node's span that makes the hop), or as the
 * root of a new trace without one. With no SDK, no OpenTelemetry object is made at all: only the ids, which this
 * node makes itself. `attributes` is called only when the span records.
 */
export function openSpan(
  name: string,
  kind: SpanKind,
  parent: TraceContext | undefined,
  attributes?: () => Attributes,
): OpenSpan {
  const tracer = sdkTracer();
  // Nothing records: the trace is passed on as it came (W3C Trace Context lets a participant that makes no span
  // forward the parent unchanged), or started here. No object is made for a span nobody keeps.
  if (!tracer) return parent ? { context: parent } : { context: newTrace() };
  const parentContext = parent
    ? trace.setSpanContext(ROOT_CONTEXT, {
      traceId: parent.traceId,
      spanId: parent.spanId,
      traceFlags: parent.flags,
      isRemote: true,
    })
    : ROOT_CONTEXT;
  const span = tracer.startSpan(name, { kind }, parentContext);
  if (!span.isRecording()) {
    // Sampled out: nothing is kept, and the trace goes on as it came.
    span.end();
    return parent ? { context: parent } : { context: newTrace() };
  }
  if (attributes) span.setAttributes(attributes());
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { span, context: traceContext(traceId, spanId, traceFlags) };
}

/** Ends a span, marked failed with `error` (a message) when given; `attributes` is called only when it records. */
export function closeSpan(open: OpenSpan, error?: string, attributes?: () => Attributes): void {
  const { span } = open;
  if (!span) return;
  if (attributes) span.setAttributes(attributes());
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end();
}

const active = new AsyncLocalStorage<TraceContext>();

/** Runs `work` with `open` as the active span of its async work, when it records (store statements nest in it). */
export function withActiveSpan<T>(open: OpenSpan, work: () => T): T {
  return open.span ? active.run(open.context, work) : work();
}

/** The recording span whose async work this is, if any. */
export function activeTrace(): TraceContext | undefined {
  return active.getStore();
}

/** The longest statement text a span carries: statements are the program's own, but a long one says no more. */
const MAX_STATEMENT_CHARS = 2000;

/**
 * A store statement as a span under the handler that runs it — when an SDK records; otherwise it just runs.
 * The span carries the statement's text (never its values: they are users' data).
 */
export function traceStatement<T>(system: "sqlite" | "mysql", sql: string, work: () => Promise<T>): Promise<T> {
  const parent = active.getStore();
  if (!parent) return work();
  const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? "SQL";
  const span = openSpan(`${operation} ${system}`, SpanKind.CLIENT, parent, () => ({
    "db.system.name": system,
    "db.operation.name": operation,
    "db.query.text": sql.slice(0, MAX_STATEMENT_CHARS),
  }));
  return work().then(
    (result) => {
      closeSpan(span);
      return result;
    },
    (error: unknown) => {
      closeSpan(span, (error as Error)?.message ?? String(error));
      throw error;
    },
  );
}
