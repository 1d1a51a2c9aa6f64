/**
 * A bounds-checked little-endian reader: the decoding half of `BinaryWriter`.
 *
 * It validates by construction: every read checks the bytes it needs against the end of the
 * frame, length prefixes and element counts are checked against the remaining bytes (and an
 * optional maximum) before anything is allocated, integers are checked against their domain,
 * `bool` and presence bytes must be exactly 0 or 1, varuints must be canonical, strings must be
 * valid UTF-8, and `finish()` rejects trailing bytes. Together these make decoding canonical:
 * a frame the reader accepts re-encodes to the same bytes.
 *
 * Failure mode: every check throws a `DecodeError` carrying the frame offset. The throw never
 * escapes a codec: `decodeWith` (in `Codec.ts`) catches it and returns it as `Either.left`.
 * Throwing inside keeps the happy path free of per-field result checks, which matters at
 * ~100k frames/s.
 *
 * The input may be a view into a larger buffer (a Node `Buffer` from the pool, a slice of a
 * WebSocket message): all offsets are relative to the view, and nothing outside it is read.
 */
import { DecodeError } from "./Frame.js"

/** Options of a reader, fixed for the whole frame. */
export interface BinaryReaderOptions {
  /**
   * When `false` (the default) `bytes()` returns a zero-copy view into the input: cheap, but it
   * keeps the whole input buffer alive and sees later writes to it. Pass `true` when the decoded
   * value outlives the input (e.g. log entries kept in memory from pooled receive buffers).
   */
  readonly copyBytes?: boolean
}

const TWO_POW_32 = 0x1_0000_0000
/** Highest allowed high word of a uint53: 2^53−1 = (2^21−1)·2^32 + (2^32−1). */
const MAX_UINT53_HIGH = 0x1f_ffff

/** `fatal`: invalid UTF-8 is a decode error, not U+FFFD. `ignoreBOM`: keep a leading U+FEFF. */
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** Strings up to this many bytes try the per-byte ASCII loop before `TextDecoder`. */
const ASCII_FAST_PATH_MAX = 32

/**
 * Scratch arrays for the ASCII fast path, one per length so none is ever resized (setting
 * `length` is a slow runtime call). Safe to share: decoding a string never re-enters.
 */
const asciiScratch: ReadonlyArray<Array<number>> = Array.from(
  { length: ASCII_FAST_PATH_MAX + 1 },
  (_, n) => new Array<number>(n).fill(0)
)

/** Reads one frame (or one part of it) front to back. Create one per frame, or `reset` it. */
export class BinaryReader {
  private input!: Uint8Array
  private view!: DataView
  private pos = 0
  private end = 0
  private readonly copyBytes: boolean

  constructor(bytes: Uint8Array, options?: BinaryReaderOptions) {
    this.copyBytes = options?.copyBytes ?? false
    this.reset(bytes)
  }

  /** Starts reading `bytes` from its first byte. */
  reset(bytes: Uint8Array): this {
    this.input = bytes
    // Respect byteOffset/byteLength: the input may be a window into a shared (pooled) buffer.
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.pos = 0
    this.end = bytes.byteLength
    return this
  }

  /** Bytes consumed so far (the offset of the next read). */
  get offset(): number {
    return this.pos
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.pos
  }

  /** Throws a `DecodeError` at the current offset (or `offset`). For codecs' own checks, too. */
  fail(reason: string, offset: number = this.pos): never {
    throw new DecodeError({ reason, offset })
  }

  /** Checks that `n` more bytes exist; called before every fixed-width read. */
  private need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      this.fail(`truncated: ${what} needs ${n} bytes, ${this.end - this.pos} left`)
    }
  }

  u8(): number {
    if (this.pos >= this.end) this.fail("truncated: u8 needs 1 byte, 0 left")
    return this.input[this.pos++]!
  }

  u16(): number {
    this.need(2, "u16")
    const value = this.view.getUint16(this.pos, true)
    this.pos += 2
    return value
  }

  u32(): number {
    this.need(4, "u32")
    const value = this.view.getUint32(this.pos, true)
    this.pos += 4
    return value
  }

  /** 8 fixed bytes, low u32 then high u32; rejects values above 2^53−1. */
  uint53(): number {
    this.need(8, "uint53")
    const low = this.view.getUint32(this.pos, true)
    const high = this.view.getUint32(this.pos + 4, true)
    if (high > MAX_UINT53_HIGH) this.fail("uint53 exceeds 2^53-1")
    this.pos += 8
    return high * TWO_POW_32 + low
  }

  /**
   * Canonical LEB128 of at most 8 bytes; rejects values above 2^53−1, overlong encodings (a
   * trailing zero group) and truncation.
   */
  varuint(): number {
    const start = this.pos
    const bytes = this.input
    if (start >= this.end) this.fail("truncated: varuint needs 1 byte, 0 left")
    let byte = bytes[start]!
    if (byte < 0x80) {
      this.pos = start + 1
      return byte
    }
    let value = byte & 0x7f
    let scale = 0x80
    for (let i = 1; ; i++) {
      const at = start + i
      if (at >= this.end) this.fail("truncated varuint", start)
      byte = bytes[at]!
      // The 8th group holds bits 49..55; only 49..52 are below 2^53, and it must be the last.
      if (i === 7 && byte > 0x0f) this.fail("varuint exceeds 2^53-1", start)
      value += (byte & 0x7f) * scale
      if (byte < 0x80) {
        if (byte === 0) this.fail("non-canonical varuint (overlong encoding)", start)
        this.pos = at + 1
        return value
      }
      scale *= 0x80
    }
  }

  /** One byte that must be 0 (false) or 1 (true). */
  bool(): boolean {
    const at = this.pos
    const byte = this.u8()
    if (byte > 1) this.fail(`invalid bool byte ${byte}`, at)
    return byte === 1
  }

  /**
   * Reads a u32 length prefix and checks it against `maxLength` and the remaining bytes. Both
   * checks happen before any allocation, so an inflated prefix (e.g. 0xFFFFFFFF) costs nothing.
   */
  private length(what: string, maxLength: number): number {
    const at = this.pos
    const n = this.u32()
    if (n > maxLength) this.fail(`${what} length ${n} exceeds maximum ${maxLength}`, at)
    if (n > this.end - this.pos) {
      this.fail(`${what} length ${n} exceeds the ${this.end - this.pos} remaining bytes`, at)
    }
    return n
  }

  /**
   * A u32 length prefix then that many bytes. Zero-copy by default: the result is a plain
   * `Uint8Array` view into the input's buffer (see `BinaryReaderOptions.copyBytes`).
   */
  bytes(maxLength: number = Number.MAX_SAFE_INTEGER): Uint8Array {
    const n = this.length("bytes", maxLength)
    const start = this.input.byteOffset + this.pos
    this.pos += n
    const view = new Uint8Array(this.input.buffer, start, n)
    if (!this.copyBytes) return view
    const copy = new Uint8Array(n)
    copy.set(view)
    return copy
  }

  /** A u32 byte-length prefix then that many bytes of valid UTF-8 (`maxLength` counts bytes). */
  string(maxLength: number = Number.MAX_SAFE_INTEGER): string {
    const at = this.pos
    const n = this.length("string", maxLength)
    const start = this.pos
    const end = start + n
    const bytes = this.input
    if (n <= ASCII_FAST_PATH_MAX) {
      // Collect the codes in a reused array and build the string once: a flat string, and cheaper
      // than `TextDecoder` (a native call) or per-character concatenation for ids and keys.
      const codes = asciiScratch[n]!
      let i = start
      for (; i < end; i++) {
        const c = bytes[i]!
        if (c >= 0x80) break
        codes[i - start] = c
      }
      if (i === end) {
        this.pos = end
        return String.fromCharCode.apply(null, codes)
      }
    }
    let out: string
    try {
      out = decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset + start, n))
    } catch {
      return this.fail("invalid UTF-8 in string", at)
    }
    this.pos = end
    return out
  }

  /** A presence byte (0 or 1) then, when present, the value read by `read`. */
  optional<A>(read: (reader: BinaryReader) => A): A | undefined {
    const at = this.pos
    const flag = this.u8()
    if (flag === 0) return undefined
    if (flag !== 1) this.fail(`invalid presence byte ${flag}`, at)
    return read(this)
  }

  /**
   * A u32 element count then each element read by `read`. The count is checked against
   * `maxCount` and against the remaining bytes divided by `minElementBytes` (the smallest encoded
   * element, at least 1) before anything is allocated. Pass a module-level `read` function.
   */
  array<A>(
    read: (reader: BinaryReader) => A,
    maxCount: number = Number.MAX_SAFE_INTEGER,
    minElementBytes: number = 1
  ): Array<A> {
    const at = this.pos
    const count = this.u32()
    if (count > maxCount) this.fail(`array count ${count} exceeds maximum ${maxCount}`, at)
    if (count * Math.max(1, minElementBytes) > this.end - this.pos) {
      this.fail(`array count ${count} cannot fit in the ${this.end - this.pos} remaining bytes`, at)
    }
    const out: Array<A> = []
    for (let i = 0; i < count; i++) out.push(read(this))
    return out
  }

  /** Checks that the whole input was consumed; trailing bytes mean a malformed or foreign frame. */
  finish(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes`)
  }
}
