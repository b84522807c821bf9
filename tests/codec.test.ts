/**
 * The ¶ wire codec (docs/protocol.md §2): frames are split on bytes, so every way a TCP stream can be cut into chunks
 * must decode to the same packets, in order, with no problems.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Answer } from "../lib/wire/answer.ts";
import { encodePacket, FrameBudget, FrameDecoder, type FrameProblem, frameText } from "../lib/wire/codec.ts";
import type { Packet } from "../lib/wire/packet.ts";
import { prng } from "./support/prng.ts";

const LEAD = 0xc2;
const TRAIL = 0xb6;
const utf8 = new TextEncoder();

interface Decoded {
  packets: Packet[];
  problems: FrameProblem[];
  decoder: FrameDecoder;
}

function newDecoder(limit?: number, budget?: FrameBudget): Decoded {
  const packets: Packet[] = [];
  const problems: FrameProblem[] = [];
  const decoder = new FrameDecoder({
    packet: (packet) => packets.push(packet),
    problem: (problem) => problems.push(problem),
  }, { maxFrameBytes: limit, budget });
  return { packets, problems, decoder };
}

function decode(chunks: Iterable<Uint8Array>, limit?: number): Decoded {
  const result = newDecoder(limit);
  for (const chunk of chunks) result.decoder.push(chunk);
  return result;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

function cutAt(bytes: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

function* fixedChunks(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let start = 0; start < bytes.length; start += size) yield bytes.subarray(start, start + size);
}

/** Chunks of 0..maxSize bytes (empty chunks included: a runtime may deliver them). */
function randomChunks(bytes: Uint8Array, seed: number, maxSize: number): Uint8Array[] {
  const random = prng(seed);
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < bytes.length;) {
    const size = Math.floor(random() * (maxSize + 1));
    chunks.push(bytes.subarray(start, start + size));
    start += size;
  }
  return chunks;
}

/** Every index i where bytes[i], bytes[i + 1] are C2 B6. */
function pilcrowOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === LEAD && bytes[i + 1] === TRAIL) offsets.push(i);
  return offsets;
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function assertClean(result: Decoded, expected: readonly Packet[], label: string): void {
  assert.deepEqual(result.problems, [], `${label}: problems`);
  assert.equal(result.packets.length, expected.length, `${label}: packet count`);
  assert.deepEqual(result.packets, expected, `${label}: packets`);
  assert.equal(result.decoder.stopped, false, `${label}: stopped`);
}

/** Text that stresses framing: ¶ itself, C2 xx that is not ¶, B6 after another lead byte, 3- and 4-byte characters. */
const FRAGMENTS = [
  "¶",
  "\u00b6",
  "\\u00b6",
  "\\\\u00b6",
  "한글 상품",
  "상품¶명",
  "°",
  "µ",
  "·",
  "Â",
  "ö",
  "ж",
  "🎉",
  "👨‍👩‍👧",
  "𝄞",
  "\u2028",
  "\ud800",
  "\"",
  "\\",
  "\n\t",
  "plain",
  " ",
  "",
  "}",
  "{",
  "]",
] as const;

function makePackets(count: number): Packet[] {
  const packets: Packet[] = [
    {
      uri: "/distributes",
      method: "POST",
      key: 0,
      params: { port: 9010, name: "goods", urls: ["POST/goods", "GET/goods", "DELETE/goods"] },
    },
    {
      uri: "/distributes",
      method: "GET",
      key: 0,
      params: [
        { port: 8000, name: "gate", urls: [], host: "::ffff:127.0.0.1" },
        { port: 9010, name: "goods", urls: ["POST/goods", "GET/goods", "DELETE/goods"], host: "::ffff:127.0.0.1" },
      ],
    },
    {
      uri: "/goods",
      method: "POST",
      params: { name: "test Goods", category: "tests", price: 1000, description: "test", key: 3 },
    },
    { key: 3, errorcode: 0, errormessage: "success" },
    { uri: "/goods", method: "POST", key: 4, params: { name: "한글 상품", category: "도서", price: 15000 } },
    { uri: "/¶", method: "PUT", key: 5, params: { "¶": "¶", "a¶b": ["¶¶", "\u00b6", "\\u00b6"] } },
    { uri: "/emoji", method: "GET", key: 6, params: { text: "🎉👨‍👩‍👧𝄞", tail: "😀¶" } },
    {
      uri: "/numbers",
      method: "GET",
      key: 7,
      params: { n: [0, 1, -42, 3.14159, 1e21, 1.5e-7, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER] },
    },
    { uri: "/nested", method: "DELETE", key: 8, params: { a: { b: { c: { d: { e: [{ f: [[["¶"]]] }] } } } } } },
    { key: 9, params: { t: true, f: false, z: null, empty: {}, list: [], s: "" } },
    {},
    { "": "", " ": " " },
  ];
  const random = prng(0x5eed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const text = () => Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(FRAGMENTS)).join("");
  while (packets.length < count) {
    const key = packets.length;
    packets.push({
      uri: `/${text()}`,
      method: pick(["GET", "POST", "PUT", "DELETE"]),
      key,
      params: {
        name: text(),
        price: Math.floor(random() * 1e6) / 100,
        tags: [text(), text(), key * 1000],
        nested: { deep: { value: text(), n: -key, ok: random() < 0.5 } },
        [text()]: text(),
        key,
      },
    });
  }
  return packets;
}

const PACKETS = makePackets(50);
const FRAMES = PACKETS.map(encodePacket);
const STREAM = concat(FRAMES);

describe("frameText / encodePacket", () => {
  it("escapes ¶ inside strings as \\u00b6 and ends with exactly one ¶", () => {
    for (const packet of PACKETS) {
      const text = frameText(packet);
      assert.ok(text.endsWith("¶"), text);
      assert.equal(text.indexOf("¶"), text.length - 1, `only the delimiter is ¶: ${text}`);
      assert.deepEqual(JSON.parse(text.slice(0, -1)), packet);
    }
    assert.equal(frameText({ v: "a¶b" }), `{"v":"a\\u00b6b"}¶`);
    assert.equal(frameText({ "¶": 1 }), `{"\\u00b6":1}¶`);
    assert.equal(frameText({ v: "\\u00b6" }), `{"v":"\\\\u00b6"}¶`);
    assert.equal(frameText({ uri: "/goods", key: 1 }), JSON.stringify({ uri: "/goods", key: 1 }) + "¶");
  });

  it("encodes to UTF-8 bytes with C2 B6 only at the end", () => {
    for (const [index, packet] of PACKETS.entries()) {
      const bytes = encodePacket(packet);
      assert.ok(bytes instanceof Uint8Array);
      assert.deepEqual(bytes, utf8.encode(frameText(packet)));
      assert.deepEqual(pilcrowOffsets(bytes), [bytes.length - 2], `packet ${index}`);
    }
    assert.deepEqual(pilcrowOffsets(STREAM), FRAMES.map((_, i) => concat(FRAMES.slice(0, i + 1)).length - 2));
  });
});

describe("FrameDecoder: chunking", () => {
  it("decodes each frame alone and the whole stream in one chunk", () => {
    for (const [index, frame] of FRAMES.entries()) assertClean(decode([frame]), [PACKETS[index]], `frame ${index}`);
    assertClean(decode([STREAM]), PACKETS, "whole stream");
  });

  it("decodes the stream split in two at every byte", () => {
    let insidePilcrow = 0;
    let insideCharacter = 0;
    for (let cut = 0; cut <= STREAM.length; cut++) {
      if (STREAM[cut - 1] === LEAD && STREAM[cut] === TRAIL) insidePilcrow++;
      if (cut < STREAM.length && (STREAM[cut] & 0xc0) === 0x80) insideCharacter++;
      assertClean(decode(cutAt(STREAM, cut)), PACKETS, `cut at ${cut}`);
    }
    assert.equal(insidePilcrow, PACKETS.length);
    assert.ok(insideCharacter > 100, `only ${insideCharacter} cuts fell inside a character`);
  });

  it("decodes the stream in chunks of every fixed size from 1 to 17 bytes", () => {
    for (let size = 1; size <= 17; size++) assertClean(decode(fixedChunks(STREAM, size)), PACKETS, `size ${size}`);
  });

  it("decodes the stream in seeded pseudo-random chunkings", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const maxSize = [3, 8, 40, 300][seed % 4];
      assertClean(decode(randomChunks(STREAM, seed, maxSize)), PACKETS, `seed ${seed}, max ${maxSize}`);
    }
  });

  it("decodes a ¶ split between its bytes C2 | B6, including across three chunks", () => {
    const [first, second] = FRAMES;
    const both = concat([first, second]);
    const lead = first.length - 2;
    assert.equal(both[lead], LEAD);
    assert.equal(both[lead + 1], TRAIL);
    assertClean(decode(cutAt(both, lead + 1)), [PACKETS[0], PACKETS[1]], "C2 | B6");
    assertClean(decode(cutAt(both, lead, lead + 1)), [PACKETS[0], PACKETS[1]], "| C2 | B6");
    assertClean(decode(cutAt(both, lead, lead + 1, lead + 2)), [PACKETS[0], PACKETS[1]], "| C2 | B6 |");
    assertClean(decode(cutAt(both, lead + 1, lead + 1, lead + 1)), [PACKETS[0], PACKETS[1]], "empty chunks");
    const lone = utf8.encode("¶");
    assertClean(decode([lone.subarray(0, 1), lone.subarray(1)]), [], "an empty frame split C2 | B6");
  });

  it("decodes a split inside multi-byte characters (Korean, emoji, C2 xx that is not ¶, B6 after another lead)", () => {
    const cases: [Packet, string][] = [
      [{ name: "한글 상품" }, "한"],
      [{ name: "x🎉y" }, "🎉"],
      [{ name: "°C" }, "°"],
      [{ name: "µs" }, "µ"],
      [{ name: "schön" }, "ö"],
      [{ name: "жук" }, "ж"],
    ];
    for (const [packet, character] of cases) {
      const frame = encodePacket(packet);
      const bytes = utf8.encode(character);
      const at = indexOfBytes(frame, bytes);
      assert.ok(at > 0, character);
      for (let inside = 1; inside < bytes.length; inside++) {
        assertClean(decode(cutAt(frame, at + inside)), [packet], `${character} cut after byte ${inside}`);
        assertClean(decode(cutAt(frame, at, at + inside)), [packet], `${character} alone, cut after byte ${inside}`);
      }
    }
  });

  it("treats B6 at the start of a chunk as ¶ only after a pending C2", () => {
    // "ö" is C3 B6: a chunk starting with B6 after a chunk ending with C3 is not a delimiter.
    const packet = { name: "ö¶ö" };
    const frame = encodePacket(packet);
    const at = indexOfBytes(frame, utf8.encode("ö"));
    assertClean(decode(cutAt(frame, at + 1)), [packet], "C3 | B6");
    // "°" is C2 B0: a chunk ending with C2 followed by a chunk not starting with B6 is not a delimiter.
    const degree = { name: "°" };
    const degreeFrame = encodePacket(degree);
    assertClean(decode(cutAt(degreeFrame, indexOfBytes(degreeFrame, utf8.encode("°")) + 1)), [degree], "C2 | B0");
  });
});

describe("FrameDecoder: compatibility and bad frames", () => {
  it("decodes frames in the book's style (JSON.stringify(p) + '¶', unescaped)", () => {
    const bookPackets = PACKETS.filter((packet) => !JSON.stringify(packet).includes("¶"));
    assert.ok(bookPackets.length >= 8);
    const stream = concat(bookPackets.map((packet) => utf8.encode(JSON.stringify(packet) + "¶")));
    assertClean(decode([stream]), bookPackets, "whole");
    for (let size = 1; size <= 5; size++) assertClean(decode(fixedChunks(stream, size)), bookPackets, `size ${size}`);
  });

  it("decodes a frame written with \\u00b6 by another writer and one with surrounding whitespace", () => {
    const text = `{"v":"a\\u00b6b"}¶ \n{"k":1}\r\n¶`;
    assertClean(decode([utf8.encode(text)]), [{ v: "a¶b" }, { k: 1 }], "escaped and padded");
  });

  it("reports invalid JSON once and keeps decoding the frames around it", () => {
    const stream = concat([FRAMES[4], utf8.encode(`{"uri":"/goods",¶`), FRAMES[5]]);
    for (const chunks of [[stream], [...fixedChunks(stream, 1)], [...fixedChunks(stream, 7)]]) {
      const result = decode(chunks);
      assert.deepEqual(result.packets, [PACKETS[4], PACKETS[5]]);
      assert.equal(result.problems.length, 1);
      const [problem] = result.problems;
      assert.ok(problem.kind === "invalid-json", JSON.stringify(problem));
      assert.equal(problem.frame, `{"uri":"/goods",`);
      assert.ok(problem.message.length > 0);
      assert.equal(result.decoder.stopped, false);
    }
  });

  it("reports each non-object JSON frame as not-an-object and keeps decoding", () => {
    const bad = ["[1,2]", "42", `"s"`, "null", "true"];
    const text = `{"a":1}¶${bad.join("¶")}¶{"b":2}¶`;
    const bytes = utf8.encode(text);
    for (const chunks of [[bytes], [...fixedChunks(bytes, 1)], [...fixedChunks(bytes, 3)]]) {
      const result = decode(chunks);
      assert.deepEqual(result.packets, [{ a: 1 }, { b: 2 }]);
      assert.deepEqual(result.problems, bad.map((frame) => ({ kind: "not-an-object", frame })));
      assert.equal(result.decoder.stopped, false);
    }
  });

  it("skips empty and whitespace-only frames without a problem", () => {
    const text = `¶¶ ¶\n¶\r\n\t ¶{"a":1}¶¶¶   ¶{"b":2}¶\n¶`;
    const bytes = utf8.encode(text);
    for (const chunks of [[bytes], [...fixedChunks(bytes, 1)], [...fixedChunks(bytes, 2)]]) {
      assertClean(decode(chunks), [{ a: 1 }, { b: 2 }], `${chunks.length} chunks`);
    }
  });

  it("reports deeply nested JSON as a problem without throwing out of push", () => {
    const depth = 100_000;
    for (const nested of ["[".repeat(depth), "[".repeat(depth) + "]".repeat(depth)]) {
      const result = newDecoder();
      const bytes = utf8.encode(`${nested}¶{"after":true}¶`);
      assert.doesNotThrow(() => result.decoder.push(bytes));
      assert.equal(result.problems.length, 1);
      const [problem] = result.problems;
      assert.ok(problem.kind === "invalid-json" || problem.kind === "not-an-object", problem.kind);
      assert.ok("frame" in problem && problem.frame.length <= 81, "the problem carries a preview, not the frame");
      assert.deepEqual(result.packets, [{ after: true }]);
      assert.equal(result.decoder.stopped, false);
    }
  });
});

describe("FrameDecoder: frame size limit", () => {
  const LIMIT = 64;
  /** A packet whose frame (without ¶) is exactly `bytes` long. */
  const sized = (bytes: number): Packet => ({ s: "x".repeat(bytes - `{"s":""}`.length) });
  const after = encodePacket({ after: 1 });

  it("decodes a frame exactly at the limit, however it is chunked", () => {
    const packet = sized(LIMIT);
    const frame = encodePacket(packet);
    assert.equal(frame.length, LIMIT + 2);
    const stream = concat([frame, frame, after]);
    const expected = [packet, packet, { after: 1 }];
    assertClean(decode([stream], LIMIT), expected, "whole");
    for (let size = 1; size <= 17; size++) assertClean(decode(fixedChunks(stream, size), LIMIT), expected, `${size}`);
    for (let cut = 0; cut <= stream.length; cut++) assertClean(decode(cutAt(stream, cut), LIMIT), expected, `${cut}`);
  });

  it("reports a frame over the limit once when it arrives whole, skips it and decodes the frames after it", () => {
    for (const bytes of [LIMIT + 1, LIMIT + 2, 1000]) {
      const first = encodePacket({ first: 1 });
      const result = decode([concat([first, encodePacket(sized(bytes)), after])], LIMIT);
      assert.deepEqual(result.packets, [{ first: 1 }, { after: 1 }]);
      assert.deepEqual(result.problems, [{ kind: "frame-too-large", bytes, limit: LIMIT }]);
      assert.equal(result.decoder.stopped, false);
      result.decoder.push(concat([after, after]));
      assert.deepEqual(result.packets, [{ first: 1 }, { after: 1 }, { after: 1 }, { after: 1 }]);
      assert.equal(result.problems.length, 1);
    }
  });

  it("reports a frame over the limit once while it is still arriving, before its ¶, then resyncs on its ¶", () => {
    const frame = encodePacket(sized(1000));
    const body = frame.subarray(0, frame.length - 2);
    for (const size of [1, 3, 8, 16]) {
      const result = newDecoder(LIMIT);
      let pushed = 0;
      for (const chunk of fixedChunks(body, size)) {
        if (result.problems.length > 0) break;
        result.decoder.push(chunk);
        pushed += chunk.length;
      }
      assert.ok(pushed < body.length, `size ${size}: reported only after ${pushed} bytes`);
      assert.equal(result.problems.length, 1);
      const [problem] = result.problems;
      assert.ok(problem.kind === "frame-too-large", JSON.stringify(problem));
      assert.equal(problem.limit, LIMIT);
      assert.ok(problem.bytes > LIMIT, `${problem.bytes}`);
      for (const chunk of fixedChunks(concat([frame.subarray(pushed), after, after]), size)) result.decoder.push(chunk);
      assert.deepEqual(result.packets, [{ after: 1 }, { after: 1 }], `size ${size}`);
      assert.equal(result.problems.length, 1);
      assert.equal(result.decoder.stopped, false);
    }
  });

  it("reports a frame one byte over the limit when its ¶ arrives, and decodes the next, however it is chunked", () => {
    const stream = concat([encodePacket(sized(LIMIT + 1)), after]);
    for (let size = 1; size <= 17; size++) {
      const result = decode(fixedChunks(stream, size), LIMIT);
      assert.deepEqual(result.packets, [{ after: 1 }], `size ${size}`);
      assert.equal(result.problems.length, 1, `size ${size}`);
      assert.equal(result.problems[0].kind, "frame-too-large");
      assert.equal(result.decoder.stopped, false);
    }
  });

  it("finds the end of a skipped frame wherever the stream is cut, even between the two bytes of its ¶", () => {
    const before = encodePacket({ before: "¶ 한글" });
    const big = encodePacket(sized(LIMIT * 3));
    const stream = concat([before, big, after]);
    const bigEnd = before.length + big.length;
    const expected = [{ before: "¶ 한글" }, { after: 1 }];
    const check = (result: Decoded, label: string) => {
      assert.deepEqual(result.packets, expected, label);
      assert.equal(result.problems.length, 1, label);
      assert.equal(result.problems[0].kind, "frame-too-large", label);
    };
    for (let cut = 0; cut <= stream.length; cut++) check(decode(cutAt(stream, cut), LIMIT), `cut at ${cut}`);
    for (const first of [before.length + LIMIT + 5, bigEnd - 30]) {
      for (let second = first + 1; second <= stream.length; second++) {
        check(decode(cutAt(stream, first, second), LIMIT), `cuts at ${first}, ${second}`);
      }
    }
    for (let size = 1; size <= 17; size++) check(decode(fixedChunks(stream, size), LIMIT), `size ${size}`);
    check(decode(randomChunks(stream, 7, 40), LIMIT), "random");
  });

  it("gives the key of an oversized frame that starts {\"key\":N, however its start is chunked", () => {
    const answer = (key: unknown) => encodePacket({ key, errorcode: 0, errormessage: "success", s: "x".repeat(200) });
    for (const size of [1, 2, 5, 200, 1000]) {
      const result = decode(fixedChunks(concat([answer(42), answer(-7), answer("k"), after]), size), LIMIT);
      const keys = result.problems.map((problem) => problem.kind === "frame-too-large" ? problem.key : "other");
      assert.deepEqual(keys, [42, -7, undefined], `size ${size}`);
      assert.deepEqual(result.packets, [{ after: 1 }]);
    }
    const request = encodePacket({ uri: "/goods", key: 5, s: "x".repeat(200) });
    const [problem] = decode([request], LIMIT).problems;
    assert.ok(problem.kind === "frame-too-large" && problem.key === undefined, "a key not at the start is not guessed");
  });

  it("holds none of a skipped frame's bytes, however long it goes on", () => {
    const budget = new FrameBudget(10 * LIMIT);
    const result = newDecoder(LIMIT, budget);
    result.decoder.push(utf8.encode(`{"s":"${"x".repeat(LIMIT / 2)}`));
    assert.equal(budget.held, LIMIT / 2 + 6);
    for (let i = 0; i < 100; i++) result.decoder.push(utf8.encode("x".repeat(LIMIT)));
    assert.equal(budget.held, 0);
    assert.equal(result.problems.length, 1);
    result.decoder.push(concat([utf8.encode(`"}¶`), after]));
    assert.deepEqual(result.packets, [{ after: 1 }]);
  });
});

describe("FrameDecoder: shared budget and unfinished frames", () => {
  const LIMIT = 100;
  const unfinished = (bytes: number) => utf8.encode(`{"s":"${"x".repeat(bytes - 6)}`);

  it("stops the decoder that would take the budget over its limit; the others go on", () => {
    const budget = new FrameBudget(150);
    const first = newDecoder(LIMIT, budget);
    const second = newDecoder(LIMIT, budget);
    first.decoder.push(unfinished(90));
    assert.equal(budget.held, 90);
    second.decoder.push(unfinished(70));
    assert.deepEqual(second.problems, [{ kind: "over-budget", limit: 150 }]);
    assert.equal(second.decoder.stopped, true);
    assert.equal(budget.held, 90, "the stopped decoder holds nothing");
    second.decoder.push(encodePacket({ late: 1 }));
    assert.deepEqual(second.packets, []);

    first.decoder.push(utf8.encode(`"}¶`));
    assert.equal(first.packets.length, 1);
    assert.equal(budget.held, 0, "a finished frame gives its bytes back");
    const third = newDecoder(LIMIT, budget);
    third.decoder.push(unfinished(90));
    third.decoder.stop();
    assert.equal(budget.held, 0, "stop gives back what was held");
  });

  it("says since when the frame in progress has been unfinished, and forgets it once the frame ends", async () => {
    const { decoder } = newDecoder(LIMIT);
    assert.equal(decoder.unfinishedSince, undefined);
    decoder.push(encodePacket({ whole: 1 }));
    assert.equal(decoder.unfinishedSince, undefined, "a frame that ends in its chunk is never unfinished");
    const before = Date.now();
    decoder.push(utf8.encode(`{"a":`));
    const since = decoder.unfinishedSince!;
    assert.ok(since >= before && since <= Date.now());
    await new Promise((resolve) => setTimeout(resolve, 30));
    decoder.push(utf8.encode(`"12`));
    assert.equal(decoder.unfinishedSince, since, "the same frame keeps its start");
    decoder.push(utf8.encode(`3"}¶{"b":`));
    assert.ok(decoder.unfinishedSince! >= since + 25, "the next frame starts its own clock");
    decoder.push(utf8.encode(`1}¶`));
    assert.equal(decoder.unfinishedSince, undefined);
    decoder.push(utf8.encode(`{"s":"${"x".repeat(LIMIT * 2)}`));
    assert.notEqual(decoder.unfinishedSince, undefined, "a frame being skipped is unfinished too");
    decoder.push(utf8.encode(`x"}¶`));
    assert.equal(decoder.unfinishedSince, undefined);
  });
});

describe("FrameDecoder: buffer ownership", () => {
  it("does not keep references to the caller's chunk buffers", () => {
    const packet = PACKETS[6];
    const frame = encodePacket(packet);
    for (let cut = 1; cut < frame.length; cut++) {
      const buffer = new Uint8Array(frame.length);
      buffer.set(frame.subarray(0, cut));
      const result = newDecoder();
      result.decoder.push(buffer.subarray(0, cut));
      buffer.fill(0x41);
      buffer.set(FRAMES[0].subarray(0, Math.min(cut, FRAMES[0].length)));
      result.decoder.push(frame.slice(cut));
      assertClean(result, [packet], `cut at ${cut}`);
    }
  });

  it("decodes a stream read through one reused buffer, as runtimes do", () => {
    for (const size of [1, 2, 5, 13, 64]) {
      const buffer = new Uint8Array(size);
      const result = newDecoder();
      for (const chunk of fixedChunks(STREAM, size)) {
        buffer.fill(LEAD);
        buffer.set(chunk);
        result.decoder.push(buffer.subarray(0, chunk.length));
      }
      buffer.fill(TRAIL);
      assertClean(result, PACKETS, `buffer of ${size}`);
    }
  });
});

describe("FrameDecoder: answers read by their heads (the asking side)", () => {
  /** A decoder with an `answer` handler, as a client's: what came as answers, as packets and as problems. */
  function answerDecoder() {
    const answers: { key: number; answer: Answer }[] = [];
    const packets: Packet[] = [];
    const problems: FrameProblem[] = [];
    const decoder = new FrameDecoder({
      packet: (packet) => packets.push(packet),
      problem: (problem) => problems.push(problem),
      answer: (key, answer) => answers.push({ key, answer }),
    });
    return { answers, packets, problems, decoder };
  }
  const goods = { key: 7, errorcode: 0, errormessage: "success", results: [{ id: 1, name: "굿즈 ¶ 🎉" }] };

  it("keeps an answer with errorcode 0 as its bytes, unparsed until read, from one reused read buffer", () => {
    const frame = encodePacket(goods);
    const result = answerDecoder();
    const buffer = new Uint8Array(frame.length);
    buffer.set(frame);
    result.decoder.push(buffer);
    buffer.fill(0x41);
    assert.equal(result.answers.length, 1);
    const [{ key, answer }] = result.answers;
    assert.equal(key, 7);
    assert.equal(answer.errorcode, 0);
    // The body is the frame's JSON exactly, ¶ still escaped: the bytes the service wrote, not the caller's buffer.
    assert.deepEqual(answer.body, frame.subarray(0, frame.length - 2));
    assert.deepEqual(answer.packet, goods);
    assert.deepEqual(result.packets, []);
  });

  it("parses in full every frame whose head is not an answer's with errorcode 0", () => {
    const frames = [
      `{"key":1,"errorcode":1,"errormessage":"no data"}`,
      `{ "key":2,"errorcode":0}`,
      `{"errorcode":0,"key":3}`,
      `{"key":4.5,"errorcode":0}`,
      `{"key":"5","errorcode":0}`,
      `{"uri":"/goods","method":"GET","params":{"key":6}}`,
    ];
    const result = answerDecoder();
    result.decoder.push(utf8.encode(frames.map((frame) => `${frame}¶`).join("")));
    assert.deepEqual(result.answers, []);
    assert.deepEqual(result.packets, frames.map((frame) => JSON.parse(frame)));
    assert.deepEqual(result.problems, []);
  });

  it("never passes on a frame cut short, and reads garbage after a proper head as a failure", () => {
    const result = answerDecoder();
    result.decoder.push(
      utf8.encode(`{"key":1,"errorcode":0,"results":[1,2¶{"key":07,"errorcode":0}¶{"key":2,"errorcode":0,what}¶`),
    );
    assert.deepEqual(result.problems.map((problem) => problem.kind), ["invalid-json", "invalid-json"]);
    assert.equal(result.answers.length, 1);
    assert.equal(result.answers[0].key, 2);
    assert.equal(result.answers[0].answer.packet.errorcode, 1);
    assert.match(String(result.answers[0].answer.packet.errormessage), /not a JSON object/);
  });

  it("is not used by a decoder without an answer handler (the answering side)", () => {
    const result = newDecoder();
    result.decoder.push(encodePacket(goods));
    assertClean(result, [goods], "no answer handler");
  });
});
