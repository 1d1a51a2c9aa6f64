/**
 * The codec interface wire messages implement, and the builder for a tagged union of frames.
 *
 * A message type is a `Schema` (the contract); its codec is hand-written against `BinaryWriter`
 * and `BinaryReader` and must produce exactly the Schema's Type. `taggedUnionCodec` adds the
 * frame header, dispatches on the type byte, checks for trailing bytes and turns every failure
 * into a returned `DecodeError`. The property harness in `testing.ts` checks both promises.
 */
import { Either } from "effect"
import { BinaryReader, type BinaryReaderOptions } from "./BinaryReader.js"
import { BinaryWriter } from "./BinaryWriter.js"
import { DecodeError, unsupportedVersion, WIRE_VERSION } from "./Frame.js"

/**
 * Encodes values of `A` to frames and decodes frames back.
 *
 * - `encode` never fails for a value of the Schema type; a value outside it (e.g. a fractional
 *   index) is a defect and throws `RangeError`.
 * - `decode` never throws, whatever the bytes: malformed input is `Either.left(DecodeError)`.
 */
export interface BinaryCodec<A> {
  encode(value: A): Uint8Array
  decode(bytes: Uint8Array): Either.Either<A, DecodeError>
}

/**
 * How the body (everything after the header) of one frame type is written and read.
 * `read` must consume exactly what `write` produced; it signals malformed input by throwing
 * through the reader (`reader.fail(...)`), which `decodeWith` converts to a `DecodeError`.
 */
export interface FrameBody<A> {
  readonly write: (writer: BinaryWriter, value: A) => void
  readonly read: (reader: BinaryReader) => A
}

/** A frame body plus the type byte (0 … 255) that identifies it on the wire. */
export interface TaggedFrame<A> extends FrameBody<A> {
  readonly type: number
}

/**
 * One `TaggedFrame` per member of the union `A`, keyed by `_tag`. The mapped type makes a missing
 * member a compile error, so adding a message to the Schema union forces a codec for it.
 */
export type TaggedFrames<A extends { readonly _tag: string }> = {
  readonly [Tag in A["_tag"]]: TaggedFrame<Extract<A, { readonly _tag: Tag }>>
}

/** Options of a codec built by `taggedUnionCodec`. */
export interface CodecOptions extends BinaryReaderOptions {
  /** Starting size of the codec's scratch writer (default 1 KiB); it grows as needed. */
  readonly initialCapacity?: number
}

/**
 * Runs `read` over `bytes` and returns its result, or the `DecodeError` it raised.
 *
 * This is the boundary that guarantees "never throws": a `DecodeError` thrown by the reader
 * becomes `Left`, and so does anything else thrown (a bug in a hand-written `read`, a stack
 * overflow on absurd nesting), reported as an internal decode error rather than a crash.
 * It does not check for trailing bytes; call `reader.finish()` inside `read` for that.
 */
export const decodeWith = <A>(
  bytes: Uint8Array,
  read: (reader: BinaryReader) => A,
  options?: BinaryReaderOptions
): Either.Either<A, DecodeError> => {
  try {
    return Either.right(read(new BinaryReader(bytes, options)))
  } catch (error) {
    return Either.left(toDecodeError(error))
  }
}

const toDecodeError = (error: unknown): DecodeError =>
  error instanceof DecodeError
    ? error
    : new DecodeError({ reason: `internal decoder error: ${error instanceof Error ? error.message : String(error)}` })

/** Writes the `[WIRE_VERSION][type]` header. Throws `RangeError` (a defect) if `type` is not a u8. */
export const writeFrameHeader = (writer: BinaryWriter, type: number): void => {
  writer.u8(WIRE_VERSION)
  writer.u8(type)
}

/**
 * Reads the header through a reader positioned at the start of a frame and returns the type byte.
 *
 * Throws `DecodeError` (to be caught by `decodeWith`) on truncation or an unsupported version.
 */
export const readFrameType = (reader: BinaryReader): number => {
  const version = reader.u8()
  if (version !== WIRE_VERSION) {
    throw unsupportedVersion(version)
  }
  return reader.u8()
}

/** Scratch writers above this size are dropped after use, so one huge frame does not pin memory. */
const MAX_RETAINED_CAPACITY = 1 << 20

/**
 * Builds the codec of a union of tagged frames from one body codec per `_tag`.
 *
 * Frames are `[WIRE_VERSION][type][body]`. Decoding fails with `DecodeError` for an unsupported
 * version, an unknown type byte, a malformed body or trailing bytes. Encoding reuses one scratch
 * writer per codec and returns an exact-size copy, so the only allocation per frame is the result.
 *
 * Throws at construction (a defect in the codec table) when a type byte is not a u8 or is used by
 * two tags.
 */
export const taggedUnionCodec = <A extends { readonly _tag: string }>(
  frames: TaggedFrames<A>,
  options?: CodecOptions
): BinaryCodec<A> => {
  const byTag = new Map<string, TaggedFrame<A>>()
  const byType: Array<TaggedFrame<A> | undefined> = new Array(256).fill(undefined)
  // Widening each member's frame to the whole union is sound here: `encode` hands a frame only
  // values whose `_tag` selected it, and `read` already returns a member of the union.
  const table = frames as unknown as Record<string, TaggedFrame<A>>
  for (const tag of Object.keys(table)) {
    const frame = table[tag]!
    if ((frame.type & 0xff) !== frame.type) {
      throw new RangeError(`taggedUnionCodec: type byte ${frame.type} of "${tag}" is not a u8`)
    }
    if (byType[frame.type] !== undefined) {
      throw new RangeError(`taggedUnionCodec: type byte ${frame.type} is used by two tags`)
    }
    byType[frame.type] = frame
    byTag.set(tag, frame)
  }

  const initialCapacity = options?.initialCapacity ?? 1024
  const readerOptions: BinaryReaderOptions = { copyBytes: options?.copyBytes ?? false }
  let scratch: BinaryWriter | undefined = new BinaryWriter(initialCapacity)

  const readFrame = (reader: BinaryReader): A => {
    const type = readFrameType(reader)
    const frame = byType[type]
    if (frame === undefined) return reader.fail(`unknown type ${type}`, 1)
    const value = frame.read(reader)
    reader.finish()
    return value
  }

  return {
    encode(value) {
      const frame = byTag.get(value._tag)
      if (frame === undefined) throw new RangeError(`taggedUnionCodec: no frame for tag "${value._tag}"`)
      // Take the scratch writer; a re-entrant encode (a body encoding a nested frame with this same
      // codec) finds it taken and uses a fresh writer instead of corrupting the outer frame.
      const writer = scratch ?? new BinaryWriter(initialCapacity)
      scratch = undefined
      try {
        writeFrameHeader(writer.reset(), frame.type)
        frame.write(writer, value)
        return writer.finish()
      } finally {
        if (writer.capacity <= MAX_RETAINED_CAPACITY) scratch = writer
      }
    },
    decode(bytes) {
      return decodeWith(bytes, readFrame, readerOptions)
    }
  }
}
