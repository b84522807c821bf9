/**
 * The codec alone, in process: packets per second through `encodePacket` then `FrameDecoder.push`, one ~1 KB
 * packet (the `GET /goods` answer) per chunk; and each half on its own. `… codec.ts SECONDS`; prints a JSON
 * `result` line.
 */
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments } from "../../lib/runtime/mod.ts";
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

const both = () => decoder.push(encodePacket(packet));
const encodeOnly = () => void encodePacket(packet);
const decodeOnly = () => decoder.push(frame);

const ms = seconds * 1000;
// Warm-up: let the JIT compile each path before it is timed.
for (const step of [both, encodeOnly, decodeOnly]) rate(Math.min(500, ms / 4), step);
const result = {
  frameBytes: frame.length,
  encodeDecode: rate(ms, both),
  encode: rate(ms / 2, encodeOnly),
  decode: rate(ms / 2, decodeOnly),
};
if (decoded === 0) throw new Error("nothing was decoded");
createLogger({ name: "codec", format: "json" }).info("result", result);
