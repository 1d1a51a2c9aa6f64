/**
 * One received frame. The receiving seam stamps `sender` (who sent it, as the fabric knows it) and
 * `sequence` (a per-receiver counter); senders never state either. The payload is a zero-copy view
 * that must not be mutated.
 */
import type { PeerId } from "./PeerId.js"

const utf8 = new TextDecoder("utf-8", { fatal: false })

/** One received frame: who sent it, the receiver's sequence number, and a read-only payload view. */
export class Swatch {
  constructor(
    /** The peer the fabric received this frame from. */
    readonly sender: PeerId,
    /** Receiver-local, strictly increasing per seam. */
    readonly sequence: number,
    /** The frame's bytes. Treat as read-only. */
    readonly payload: Uint8Array
  ) {}

  get payloadSize(): number {
    return this.payload.byteLength
  }

  /** The byte at `index`, or `undefined` outside the payload. */
  byteAt(index: number): number | undefined {
    return this.payload[index]
  }

  /** The payload decoded as UTF-8 (invalid sequences become U+FFFD). */
  decodeToString(): string {
    return utf8.decode(this.payload)
  }

  /** A swatch sharing this one's bytes without the first `n` (zero-copy). */
  dropFirst(n: number): Swatch {
    const k = Math.max(0, Math.min(n, this.payload.byteLength))
    return new Swatch(this.sender, this.sequence, this.payload.subarray(k))
  }

  /** A copy of the payload that the caller owns. */
  toByteArray(): Uint8Array {
    return this.payload.slice()
  }
}
