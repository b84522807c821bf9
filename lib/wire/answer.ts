/**
 * An answer as it came from a service: its UTF-8 JSON, which a gateway passes on as it is, and the packet, parsed
 * only when someone reads it. A gateway relaying `GET /goods` needs the answer's key (to match it to its request)
 * and its errorcode (0: a plain 200), and both come first in every answer a Pilcrow service writes
 * (`{"key":3,"errorcode":0,…`): read from the head, they spare the gateway decoding the rest to text, parsing it
 * and encoding it again — the largest piece of its own work per request (BENCHMARKS.md, "Speed"). Any other answer
 * (another order, spaces, an errorcode that is not 0), and every answer of a book service, is parsed in full.
 */
import type { Packet } from "./packet.ts";

const decoder = new TextDecoder();

/** `{"key":N,"errorcode":0,` or `…0}` exactly as JSON.stringify writes it: no spaces, key first, no leading zero. */
const ANSWER_HEAD = /^\{"key":(-?(?:0|[1-9]\d{0,14})),"errorcode":0[,}]/;
/** Enough bytes for the head with the longest key it accepts. */
const HEAD_BYTES = 40;
const CLOSING_BRACE = 0x7d;

export class Answer {
  #packet: Packet | undefined;
  #text: string | undefined;
  #bytes: Uint8Array<ArrayBuffer> | undefined;

  private constructor(
    /** The answer's errorcode: read from its head, or from the parsed packet. */
    readonly errorcode: unknown,
    packet: Packet | undefined,
    text: string | undefined,
    bytes: Uint8Array<ArrayBuffer> | undefined,
  ) {
    this.#packet = packet;
    this.#text = text;
    this.#bytes = bytes;
  }

  /** An answer already parsed, with its frame's JSON text (valid: it was parsed). */
  static parsed(packet: Packet, text: string): Answer {
    return new Answer(packet.errorcode, packet, text, undefined);
  }

  /**
   * A frame whose head says it answers request `key` with errorcode 0, its bytes kept as they are (a copy: the frame
   * may lie in a read buffer the runtime reuses, and the answer outlives the read). Undefined when the head is not so
   * (the caller parses the frame in full), and when the frame does not end as an object does. Only the head and the
   * last byte are checked: a peer must be one that escapes `¶` inside its JSON (a Pilcrow node), or a frame cut at a
   * `¶` inside a string could pass.
   */
  static fromHead(frame: Uint8Array): { key: number; answer: Answer } | undefined {
    if (frame[frame.length - 1] !== CLOSING_BRACE) return undefined;
    const match = ANSWER_HEAD.exec(latin1(frame, HEAD_BYTES));
    if (match === null) return undefined;
    // Uint8Array's slice, which copies: a Buffer's own slice (Node's, Bun's chunks) is a view of the same memory.
    return {
      key: Number(match[1]),
      answer: new Answer(0, undefined, undefined, Uint8Array.prototype.slice.call(frame)),
    };
  }

  /**
   * The answer's packet, parsed on first use (a relaying gateway never asks). An answer read by its head whose rest
   * is no JSON object (a service that wrote garbage after a proper head) reads as a failure in the book's shape.
   */
  get packet(): Packet {
    return this.#packet ??= parseObject(this.text) ?? {
      errorcode: 1,
      errormessage: "the service's answer is not a JSON object",
    };
  }

  /** The answer's JSON text. */
  get text(): string {
    return this.#text ??= decoder.decode(this.#bytes);
  }

  /** The answer's JSON as UTF-8 bytes: what an HTTP answer's body is made of. */
  get body(): string | Uint8Array<ArrayBuffer> {
    return this.#bytes ?? this.#text!;
  }
}

function parseObject(text: string): Packet | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value as Packet : undefined;
  } catch {
    return undefined;
  }
}

/** The first `count` bytes as Latin-1 text: the head is ASCII, and this never fails on what follows it. */
function latin1(bytes: Uint8Array, count: number): string {
  return String.fromCharCode.apply(null, bytes.subarray(0, count) as unknown as number[]);
}
