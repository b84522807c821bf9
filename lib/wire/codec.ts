/**
 * The ¶ wire format (SPEC §2): each packet is its UTF-8 JSON text followed by `¶` (bytes C2 B6).
 * Frames are split on bytes, never on decoded text, so a TCP chunk may end anywhere — inside a
 * multi-byte character or between the two bytes of `¶` itself.
 */
import { Buffer } from "node:buffer";
import { concatBytes } from "../bytes.ts";
import type { Packet } from "./packet.ts";

const LEAD = 0xc2;
const TRAIL = 0xb6;
const decoder = new TextDecoder();

export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/**
 * The frame text of a packet. `¶` can only appear inside JSON strings, where `\u00b6` means the same
 * to any JSON parser, so escaping it there makes a value unable to split a frame.
 */
export function frameText(packet: Packet): string {
  const json = JSON.stringify(packet);
  return (json.includes("¶") ? json.replaceAll("¶", "\\u00b6") : json) + "¶";
}

export function encodePacket(packet: Packet): Uint8Array {
  return utf8(frameText(packet));
}

/** UTF-8 bytes of a string: Buffer.from is about 3× faster than TextEncoder.encode on Node 20 for 1 KB. */
export function utf8(text: string): Uint8Array {
  const bytes = Buffer.from(text, "utf8");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export type FrameProblem =
  | { kind: "invalid-json"; message: string; frame: string }
  | { kind: "not-an-object"; frame: string }
  | { kind: "frame-too-large"; bytes: number; limit: number };

export interface DecoderEvents {
  /** A packet, with the frame's JSON text (valid: it was just parsed) for whoever can pass it on as is. */
  packet(packet: Packet, text: string): void;
  /** A frame that is not a packet. After `frame-too-large` the decoder stops: the stream cannot be resynced cheaply. */
  problem(problem: FrameProblem): void;
}

/** Incremental decoder: feed it byte chunks as they arrive, it reports each complete packet in order. */
export class FrameDecoder {
  /** Bytes of the frame in progress, kept as received (copied: runtimes may reuse their read buffers). */
  #pieces: Uint8Array[] = [];
  #pendingBytes = 0;
  #stopped = false;

  constructor(private readonly events: DecoderEvents, private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  get stopped(): boolean {
    return this.#stopped;
  }

  push(chunk: Uint8Array): void {
    let start = 0;
    let search = 0;
    while (!this.#stopped) {
      const trail = chunk.indexOf(TRAIL, search);
      if (trail === -1) break;
      search = trail + 1;
      const leadInChunk = trail > start && chunk[trail - 1] === LEAD;
      const leadInPending = trail === start && start === 0 && this.#endsWithLead();
      if (!leadInChunk && !leadInPending) continue;
      this.#finishFrame(chunk, start, leadInChunk ? trail - 1 : 0, leadInPending);
      start = trail + 1;
    }
    if (this.#stopped || start === chunk.length) return;
    const rest = chunk.length - start;
    if (this.#pendingBytes + rest > this.maxFrameBytes + 1) {
      this.#tooLarge(this.#pendingBytes + rest);
      return;
    }
    this.#pieces.push(chunk.slice(start));
    this.#pendingBytes += rest;
  }

  #endsWithLead(): boolean {
    const last = this.#pieces[this.#pieces.length - 1];
    return last !== undefined && last[last.length - 1] === LEAD;
  }

  /** Completes the frame made of the pending bytes plus chunk[start, end); drops a trailing lead byte in pending. */
  #finishFrame(chunk: Uint8Array, start: number, end: number, dropPendingLead: boolean): void {
    let frame: Uint8Array;
    if (this.#pieces.length === 0) {
      frame = chunk.subarray(start, end);
    } else {
      const pending = this.#takePending();
      const head = dropPendingLead ? pending.subarray(0, pending.length - 1) : pending;
      frame = end > start ? concatBytes([head, chunk.subarray(start, end)]) : head;
    }
    if (frame.length > this.maxFrameBytes) return this.#tooLarge(frame.length);
    if (frame.length > 0) this.#parse(frame);
  }

  #takePending(): Uint8Array {
    const pending = this.#pieces.length === 1 ? this.#pieces[0] : concatBytes(this.#pieces, this.#pendingBytes);
    this.#pieces = [];
    this.#pendingBytes = 0;
    return pending;
  }

  #tooLarge(bytes: number): void {
    this.#stopped = true;
    this.#pieces = [];
    this.#pendingBytes = 0;
    this.events.problem({ kind: "frame-too-large", bytes, limit: this.maxFrameBytes });
  }

  #parse(frame: Uint8Array): void {
    const text = decoder.decode(frame);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      if (text.trim() === "") return;
      this.events.problem({ kind: "invalid-json", message: (error as Error).message, frame: preview(text) });
      return;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.events.problem({ kind: "not-an-object", frame: preview(text) });
      return;
    }
    this.events.packet(value as Packet, text);
  }
}

/** Enough of a bad frame to recognise it in a log line, never a whole (possibly huge or secret) body. */
function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
