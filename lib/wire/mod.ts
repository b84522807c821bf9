/** The wire ("pilcrow/wire"): packets as JSON followed by `¶` (docs/protocol.md §2), encoded and decoded on bytes. */
export {
  type DecoderEvents,
  type DecoderOptions,
  DEFAULT_MAX_FRAME_BYTES,
  encodePacket,
  FrameDecoder,
  type FrameProblem,
  frameText,
} from "./codec.ts";
export { DISTRIBUTES, type Method, type NodeInfo, type Packet } from "./packet.ts";
