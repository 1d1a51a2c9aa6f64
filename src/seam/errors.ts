/**
 * Typed failures of the seam combinators (`Mux`, `ManagedSeam`). Each is a
 * `Data.TaggedError`, so callers can `Effect.catchTag` them. They are programming errors at the
 * call site (a bad tag, a bad name, the wrong seam), reported as values rather than thrown so a
 * caller that builds channel names from data can handle them.
 */
import { Data } from "effect"
import type { PeerId } from "../../services/seam/PeerId.js"

/** A by-tag `Mux` was given a tag outside the one-byte range 0..255 (or not an integer). */
export class InvalidChannelTag extends Data.TaggedError("InvalidChannelTag")<{
  readonly tag: number
}> {
  override get message() {
    return `a Mux channel tag must be an integer in 0..255, got ${this.tag}`
  }
}

/** Why a by-name `Mux` refused a channel name. */
export type InvalidChannelNameReason =
  /** The name encodes to zero bytes. */
  | "empty"
  /** The name encodes to more than 255 UTF-8 bytes (the length prefix is one byte). */
  | "too-long"
  /**
   * The name holds a lone surrogate, which UTF-8 cannot carry: it would encode as U+FFFD and
   * collide on the wire with every other name that differs only there.
   */
  | "not-well-formed"

/** A by-name `Mux` was given a name that does not encode to 1..255 well-formed UTF-8 bytes. */
export class InvalidChannelName extends Data.TaggedError("InvalidChannelName")<{
  readonly name: string
  /** The name's UTF-8 length in bytes. */
  readonly byteLength: number
  readonly reason: InvalidChannelNameReason
}> {
  override get message() {
    return `a Mux channel name must be 1..255 bytes of well-formed UTF-8, got ${this.byteLength} bytes (${this.reason})`
  }
}

/** `ManagedSeam.swap` was given a seam of another peer: the managed seam's identity is fixed. */
export class SelfIdMismatch extends Data.TaggedError("SelfIdMismatch")<{
  readonly expected: PeerId
  readonly actual: PeerId
}> {
  override get message() {
    return `cannot swap in a seam of peer ${this.actual}: this managed seam is peer ${this.expected}`
  }
}
