/**
 * The codec alone, in process: packets per second through `encodePacket` then `FrameDecoder.push`, one ~1 KB
 * packet (the `GET /goods` answer) per chunk; and each half on its own; and what tracing costs a request with no
 * SDK registered. `… codec.ts SECONDS`; prints a JSON
 * `result` line.
 */
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments } from "../../lib/runtime/mod.ts";
import { closeSpan, openSpan, SpanKind } from "../../lib/trace/spans.ts";
import { newTrace, parseTraceparent } from "../../lib/trace/traceparent.ts";
import { encodePacket, FrameDecoder } from "../../lib/wire/codec.ts";
import { goodsAnswer } from "./fixture.ts";

const seconds = Number(commandLineArguments()[0] ?? 2);
const packet = goodsAnswer(123_456);
const frame = encodePacket(packet);
let decoded = 0;
const decoder = new FrameDecoder({
  packet: () => void decoded++,
  problem: (problem) => {
    throw new Error(`the benchmark packet did not decode: ${JSON.stringify(problem)}`);
  },
});

/** Runs `step` in batches until `ms` have passed; returns steps per second. */
function rate(ms: number, step: () => void): number {
  const started = performance.now();
  const deadline = started + ms;
  let steps = 0;
  let now = started;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) step();
    steps += 1000;
    now = performance.now();
  }
  return steps / ((now - started) / 1000);
}

/**
 * What tracing does for one request through the gateway to a service with no SDK registered: the gateway reads
 * the caller's traceparent, opens its span and the hop's, writes the hop's traceparent; the service reads it and
 * opens the handler's span; all three end.
 */
const header = newTrace().traceparent;
const traceOneRequest = () => {
  const request = openSpan("GET /goods", SpanKind.SERVER, parseTraceparent(header));
  const hop = openSpan("GET/goods", SpanKind.CLIENT, request.context);
  const handler = openSpan("GET/goods", SpanKind.SERVER, parseTraceparent(hop.context.traceparent));
  closeSpan(handler);
  closeSpan(hop);
  closeSpan(request);
};

const both = () => decoder.push(encodePacket(packet));
const encodeOnly = () => void encodePacket(packet);
const decodeOnly = () => decoder.push(frame);

const ms = seconds * 1000;
// Warm-up: let the JIT compile each path before it is timed.
for (const step of [both, encodeOnly, decodeOnly, traceOneRequest]) rate(Math.min(500, ms / 4), step);
const result = {
  frameBytes: frame.length,
  encodeDecode: rate(ms, both),
  encode: rate(ms / 2, encodeOnly),
  decode: rate(ms / 2, decodeOnly),
  tracedRequests: rate(ms / 2, traceOneRequest),
};
if (decoded === 0) throw new Error("nothing was decoded");
createLogger({ name: "codec", format: "json" }).info("result", result);
