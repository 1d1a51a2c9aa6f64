/**
 * The framing convention shared by every wire message, and the one error every decoder returns.
 *
 * Every frame starts with a two-byte header, `[version:u8][type:u8]`, followed by the fields of
 * the message named by `type`. The sender is never part of a frame (the transport stamps it).
 *
 * Why a version byte in every frame instead of a handshake: frames travel over seams that may
 * mix peers of different releases, and a receiver must be able to drop (and trace) a frame it
 * cannot read without tearing the connection. One byte per frame is cheap for that.
 */
import { Data, Either } from "effect"

/**
 * The wire version this build writes and the only one it reads.
 *
 * Bump it when a frame layout changes incompatibly; decoders reject every other value with
 * `DecodeError("unsupported version …")` so an old and a new peer drop each other's frames instead
 * of misreading them.
 */
export const WIRE_VERSION = 1

/** Size in bytes of the `[version:u8][type:u8]` header that starts every frame. */
export const FRAME_HEADER_BYTES = 2

/**
 * A frame could not be decoded: truncated, a length prefix larger than the frame, an integer
 * outside its domain, an unknown version or type byte, trailing bytes, invalid UTF-8, …
 *
 * Decoders return it (never throw it past their boundary) for every malformed byte sequence:
 * receivers drop and trace undecodable frames, they never crash on them.
 * `offset` is the byte position (from the start of the frame) where decoding gave up, when known.
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly reason: string
  readonly offset?: number
}> {
  override get message() {
    return this.offset === undefined ? this.reason : `${this.reason} (at byte ${this.offset})`
  }
}

/** The decoded `[version:u8][type:u8]` header of a frame. */
export interface FrameHeader {
  readonly version: number
  readonly type: number
}

/**
 * Reads the header of a frame without decoding its body, e.g. to route or trace a frame.
 *
 * Fails with `DecodeError` when the frame is shorter than the header or its version is not
 * `WIRE_VERSION`. Does not look at the type byte's meaning: that is the codec's job.
 */
export const readFrameHeader = (bytes: Uint8Array): Either.Either<FrameHeader, DecodeError> => {
  if (bytes.length < FRAME_HEADER_BYTES) {
    return Either.left(new DecodeError({ reason: "truncated frame header", offset: bytes.length }))
  }
  const version = bytes[0]!
  if (version !== WIRE_VERSION) {
    return Either.left(unsupportedVersion(version))
  }
  return Either.right({ version, type: bytes[1]! })
}

/** The error of a frame whose version byte is not `WIRE_VERSION` (the header sits at offset 0). */
export const unsupportedVersion = (version: number): DecodeError =>
  new DecodeError({ reason: `unsupported version ${version} (expected ${WIRE_VERSION})`, offset: 0 })
