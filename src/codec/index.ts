/**
 * Wire codec groundwork: the frame convention, the binary writer and reader, the codec interface
 * and the integer schemas. The property harness lives in `./testing.ts` (exported by
 * `kuilt/testing`), so the runtime entry point does not carry fast-check.
 */
export { BinaryReader, type BinaryReaderOptions } from "./BinaryReader.js"
export { BinaryWriter, isUint53 } from "./BinaryWriter.js"
export {
  type BinaryCodec,
  type CodecOptions,
  decodeWith,
  type FrameBody,
  readFrameType,
  type TaggedFrame,
  type TaggedFrames,
  taggedUnionCodec,
  writeFrameHeader
} from "./Codec.js"
export {
  DecodeError,
  FRAME_HEADER_BYTES,
  type FrameHeader,
  readFrameHeader,
  WIRE_VERSION
} from "./Frame.js"
export { MAX_UINT53, U16, U32, U8, Uint53 } from "./WireInt.js"
