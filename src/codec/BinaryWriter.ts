/**
 * A growable little-endian byte writer for hand-written frame codecs.
 *
 * Field encodings (the reader in `BinaryReader.ts` mirrors each one):
 * - `u8` / `u16` / `u32`: fixed width, little-endian (native order on every platform we run on).
 * - `uint53`: a safe non-negative integer in 8 fixed bytes, low u32 then high u32 (high ≤ 2^21−1).
 * - `varuint`: the same domain as LEB128, 1 to 8 bytes, canonical (no overlong forms).
 * - `bool`: one byte, 0 or 1. `optional`: a presence byte (0 or 1) then the value.
 * - `bytes` / `string`: a u32 byte-length prefix then the raw bytes / the UTF-8 bytes.
 * - `array`: a u32 element count then the elements.
 *
 * Why both `uint53` and `varuint`: Raft indices and terms start small and stay small for a long
 * time, so LEB128 makes a 64-entry AppendEntries roughly 10 bytes per entry shorter; the fixed form
 * is branch-free and has a constant size, which suits fields that are usually large (ids, hashes)
 * or must be patched in place. The message author picks per field; both are covered by the
 * `Uint53` schema. Lengths and counts are fixed u32 so a string's prefix can be written after its
 * bytes (UTF-8 length is only known after encoding) without moving them.
 *
 * Performance: one buffer that grows geometrically, no allocation per field, a shared
 * `TextEncoder`, and an ASCII fast path for short strings (ids, dedup keys), which skips the
 * `encodeInto` call overhead.
 *
 * Values outside a field's domain (a u8 of 300, a negative or fractional uint53, a NaN) are
 * defects: the Schema type of a message already excludes them, so the writer throws `RangeError`
 * instead of silently wrapping them into a different value.
 */

const MAX_U32 = 0xffff_ffff
const TWO_POW_32 = 0x1_0000_0000

/** Shared by every writer: `TextEncoder` is stateless. */
const encoder = new TextEncoder()

/** Strings up to this many UTF-16 units try the per-character ASCII loop before `encodeInto`. */
const ASCII_FAST_PATH_MAX = 64

/**
 * A growable buffer with one method per field encoding; every method returns `this` so a body can
 * be written as a chain. Reuse one writer with `reset()` to avoid allocating per frame.
 */
export class BinaryWriter {
  private buf: Uint8Array
  private view: DataView
  private pos = 0

  /** `initialCapacity` is a hint; the buffer doubles whenever a write does not fit. */
  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity))
    this.view = new DataView(this.buf.buffer)
  }

  /** Number of bytes written so far. */
  get length(): number {
    return this.pos
  }

  /** Current buffer size; lets owners of a reused writer drop it after an unusually large frame. */
  get capacity(): number {
    return this.buf.length
  }

  /** Forgets what was written (keeps the buffer) so the writer can encode the next frame. */
  reset(): this {
    this.pos = 0
    return this
  }

  /** A copy of the bytes written so far, exactly `length` bytes; safe to keep after `reset()`. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }

  /**
   * A view of the bytes written so far, without copying. It aliases the writer's buffer: it is
   * overwritten by the next frame after `reset()`, so only use it when the writer is not reused.
   */
  finishView(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }

  /** Makes room for `n` more bytes, growing geometrically so N writes cost O(N) copying in total. */
  private ensure(n: number): void {
    const needed = this.pos + n
    if (needed <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < needed) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(value: number): this {
    if ((value & 0xff) !== value) throw outOfRange("u8", value)
    this.ensure(1)
    this.buf[this.pos++] = value
    return this
  }

  u16(value: number): this {
    if ((value & 0xffff) !== value) throw outOfRange("u16", value)
    this.ensure(2)
    this.view.setUint16(this.pos, value, true)
    this.pos += 2
    return this
  }

  u32(value: number): this {
    if (value >>> 0 !== value) throw outOfRange("u32", value)
    this.ensure(4)
    this.view.setUint32(this.pos, value, true)
    this.pos += 4
    return this
  }

  /** A safe non-negative integer (0 … 2^53−1) in 8 fixed bytes: low u32, then high u32. */
  uint53(value: number): this {
    if (!isUint53(value)) throw outOfRange("uint53", value)
    this.ensure(8)
    // `% 2^32` and `/ 2^32` instead of bit operations: those truncate to 32 bits.
    this.view.setUint32(this.pos, value % TWO_POW_32, true)
    this.view.setUint32(this.pos + 4, Math.floor(value / TWO_POW_32), true)
    this.pos += 8
    return this
  }

  /** A safe non-negative integer (0 … 2^53−1) as canonical LEB128: 1 byte below 128, at most 8. */
  varuint(value: number): this {
    if (!isUint53(value)) throw outOfRange("varuint", value)
    this.ensure(8)
    const buf = this.buf
    let pos = this.pos
    // Below 2^31 the shifts are exact; above, peel 7 bits with division (shifts would truncate).
    while (value >= 0x8000_0000) {
      buf[pos++] = (value % 128) | 0x80
      value = Math.floor(value / 128)
    }
    while (value >= 0x80) {
      buf[pos++] = (value & 0x7f) | 0x80
      value >>>= 7
    }
    buf[pos++] = value
    this.pos = pos
    return this
  }

  bool(value: boolean): this {
    this.ensure(1)
    this.buf[this.pos++] = value ? 1 : 0
    return this
  }

  /** A u32 length prefix then the bytes (copied into the frame). */
  bytes(value: Uint8Array): this {
    const n = value.length
    if (n > MAX_U32) throw outOfRange("bytes length", n)
    this.ensure(4 + n)
    this.view.setUint32(this.pos, n, true)
    this.buf.set(value, this.pos + 4)
    this.pos += 4 + n
    return this
  }

  /**
   * A u32 byte-length prefix then the UTF-8 bytes of `value`.
   *
   * Lone surrogates cannot be represented in UTF-8; like `TextEncoder` they are written as U+FFFD,
   * so such a string does not round-trip (schemas for wire ids should exclude them).
   */
  string(value: string): this {
    const units = value.length
    // Worst case 3 UTF-8 bytes per UTF-16 unit (a surrogate pair is 2 units for 4 bytes).
    this.ensure(4 + units * 3)
    const start = this.pos + 4
    let end = start
    if (units <= ASCII_FAST_PATH_MAX) {
      const buf = this.buf
      let i = 0
      for (; i < units; i++) {
        const c = value.charCodeAt(i)
        if (c >= 0x80) break
        buf[end++] = c
      }
      if (i < units) end = start + encoder.encodeInto(value, buf.subarray(start)).written
    } else {
      end = start + encoder.encodeInto(value, this.buf.subarray(start)).written
    }
    const n = end - start
    if (n > MAX_U32) throw outOfRange("string length", n)
    this.view.setUint32(this.pos, n, true)
    this.pos = end
    return this
  }

  /**
   * A presence byte then, when `value` is not `undefined`, the value written by `write`.
   * Matches `Schema.optionalWith(S, { exact: true })` fields (absent key ⇔ `undefined`).
   */
  optional<A>(value: A | undefined, write: (writer: BinaryWriter, value: A) => void): this {
    if (value === undefined) {
      this.ensure(1)
      this.buf[this.pos++] = 0
    } else {
      this.ensure(1)
      this.buf[this.pos++] = 1
      write(this, value)
    }
    return this
  }

  /**
   * A u32 element count then each element written by `write`. Pass a function defined once (at
   * module level), not a closure per call, to keep the hot path allocation-free.
   */
  array<A>(items: ReadonlyArray<A>, write: (writer: BinaryWriter, item: A) => void): this {
    this.u32(items.length)
    for (let i = 0; i < items.length; i++) write(this, items[i]!)
    return this
  }
}

/** True for the integers a `uint53` / `varuint` field can carry: 0 … 2^53−1. */
export const isUint53 = (value: number): boolean => Number.isSafeInteger(value) && value >= 0

const outOfRange = (field: string, value: number): RangeError =>
  new RangeError(`BinaryWriter: ${value} is outside the domain of a ${field} field`)
