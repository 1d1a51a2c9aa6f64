import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { BinaryReader, BinaryWriter, DecodeError, decodeWith } from "../../src/codec/index.js"
import { expectDecodeError } from "../../src/codec/testing.js"

const bytesOf = (...values: ReadonlyArray<number>): Uint8Array => Uint8Array.from(values)

/** Reads `bytes` with `read` (then `finish()`), returning the result or the DecodeError. */
const decode = <A>(bytes: Uint8Array, read: (r: BinaryReader) => A) =>
  decodeWith(bytes, (r) => {
    const value = read(r)
    r.finish()
    return value
  })

const u32le = (n: number): Array<number> => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]

describe("BinaryReader guards", () => {
  it("rejects every fixed-width read that runs past the end", () => {
    expectDecodeError(decode(bytesOf(), (r) => r.u8()), "truncated")
    expectDecodeError(decode(bytesOf(1), (r) => r.u16()), "truncated")
    expectDecodeError(decode(bytesOf(1, 2, 3), (r) => r.u32()), "truncated")
    expectDecodeError(decode(bytesOf(1, 2, 3, 4, 5, 6, 7), (r) => r.uint53()), "truncated")
    expectDecodeError(decode(bytesOf(), (r) => r.bool()), "truncated")
    expectDecodeError(decode(bytesOf(), (r) => r.varuint()), "truncated")
    expectDecodeError(decode(bytesOf(0x80, 0x80), (r) => r.varuint()), "truncated")
  })

  it("reports the offset where decoding gave up", () => {
    const error = expectDecodeError(decode(bytesOf(1, 2, 3), (r) => [r.u16(), r.u16()]), "truncated")
    expect(error.offset).toBe(2)
    expect(error.message).toContain("at byte 2")
    expect(error).toBeInstanceOf(DecodeError)
    expect(error._tag).toBe("DecodeError")
  })

  it("rejects a length prefix larger than the remaining bytes", () => {
    expectDecodeError(decode(bytesOf(...u32le(5), 1, 2, 3, 4), (r) => r.bytes()), "exceeds the 4 remaining bytes")
    expectDecodeError(decode(bytesOf(...u32le(0xffff_ffff)), (r) => r.bytes()), "exceeds the 0 remaining bytes")
    expectDecodeError(decode(bytesOf(...u32le(3), 0x61, 0x62), (r) => r.string()), "exceeds the 2 remaining bytes")
    const error = expectDecodeError(decode(bytesOf(9, ...u32le(0xffff_ffff)), (r) => [r.u8(), r.string()]), "exceeds")
    expect(error.offset).toBe(1) // the prefix, not the end of the frame
  })

  it("rejects lengths and counts above the caller's maximum even when the bytes are there", () => {
    expectDecodeError(decode(bytesOf(...u32le(3), 1, 2, 3), (r) => r.bytes(2)), "exceeds maximum 2")
    expectDecodeError(decode(bytesOf(...u32le(3), 0x61, 0x62, 0x63), (r) => r.string(2)), "exceeds maximum 2")
    expectDecodeError(decode(bytesOf(...u32le(3), 1, 2, 3), (r) => r.array((x) => x.u8(), 2)), "exceeds maximum 2")
    expect(decode(bytesOf(...u32le(2), 0x61, 0x62), (r) => r.string(2))).toEqual(Either.right("ab"))
  })

  it("rejects an array count that cannot fit, before reading any element", () => {
    let reads = 0
    const readElement = (r: BinaryReader) => {
      reads++
      return r.uint53()
    }
    // 3 elements of at least 8 bytes cannot fit in 20 bytes.
    expectDecodeError(decode(bytesOf(...u32le(3), ...new Array(20).fill(0)), (r) => r.array(readElement, 10, 8)), "cannot fit")
    expectDecodeError(decode(bytesOf(...u32le(0xffff_ffff)), (r) => r.array(readElement)), "cannot fit")
    expect(reads).toBe(0)
  })

  it("rejects integers above 2^53-1", () => {
    expectDecodeError(decode(bytesOf(0, 0, 0, 0, 0, 0, 0x20, 0), (r) => r.uint53()), "exceeds 2^53-1")
    expectDecodeError(decode(bytesOf(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), (r) => r.uint53()), "exceeds 2^53-1")
    // 8th LEB128 group above 0x0f sets bit 53 or more; a 9th group is never valid.
    expectDecodeError(decode(bytesOf(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10), (r) => r.varuint()), "exceeds 2^53-1")
    expectDecodeError(decode(bytesOf(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x01), (r) => r.varuint()), "exceeds 2^53-1")
  })

  it("rejects overlong (non-canonical) varuints", () => {
    expectDecodeError(decode(bytesOf(0x80, 0x00), (r) => r.varuint()), "non-canonical")
    expectDecodeError(decode(bytesOf(0xff, 0x80, 0x00), (r) => r.varuint()), "non-canonical")
  })

  it("rejects bool and presence bytes other than 0 and 1", () => {
    expectDecodeError(decode(bytesOf(2), (r) => r.bool()), "invalid bool byte 2")
    expectDecodeError(decode(bytesOf(0xff, 0), (r) => r.optional((x) => x.u8())), "invalid presence byte 255")
  })

  it("rejects invalid UTF-8 instead of substituting U+FFFD", () => {
    const invalid = [
      [0xff], // never valid
      [0x61, 0xe6, 0x97], // truncated 3-byte sequence
      [0xc0, 0x80], // overlong NUL
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0x80] // a lone continuation byte
    ]
    for (const body of invalid) {
      const error = expectDecodeError(decode(bytesOf(...u32le(body.length), ...body), (r) => r.string()), "invalid UTF-8")
      expect(error.offset).toBe(0)
    }
  })

  it("rejects trailing bytes in finish()", () => {
    expectDecodeError(decode(bytesOf(1, 2), (r) => r.u8()), "1 trailing bytes")
    expect(decode(bytesOf(1), (r) => r.u8())).toEqual(Either.right(1))
  })

  it("reads only inside a view into a larger buffer (a pooled Buffer)", () => {
    const host = bytesOf(0xee, 0xee, 7, 0, 0xee, 0xee, 0xee, 0xee)
    const view = host.subarray(2, 4)
    expect(decode(view, (r) => r.u16())).toEqual(Either.right(7))
    expectDecodeError(decode(view, (r) => r.u32()), "truncated")
    const pooled = Buffer.concat([Buffer.alloc(5, 0xee), Buffer.from(new BinaryWriter().string("hé").bytes(bytesOf(1, 2)).finish())])
    const frame = pooled.subarray(5)
    expect(frame.byteOffset).toBeGreaterThan(0)
    expect(decode(frame, (r) => [r.string(), Array.from(r.bytes())])).toEqual(Either.right(["hé", [1, 2]]))
  })

  it("returns bytes as a zero-copy plain Uint8Array view unless copyBytes is set", () => {
    const frame = Buffer.from(new BinaryWriter().bytes(bytesOf(1, 2, 3)).finish())
    const shared = new BinaryReader(frame).bytes()
    const copied = new BinaryReader(frame, { copyBytes: true }).bytes()
    expect(Object.getPrototypeOf(shared)).toBe(Uint8Array.prototype)
    expect(Object.getPrototypeOf(copied)).toBe(Uint8Array.prototype)
    expect(shared.buffer).toBe(frame.buffer)
    frame[4] = 9
    expect(Array.from(shared)).toEqual([9, 2, 3])
    expect(Array.from(copied)).toEqual([1, 2, 3])
  })

  it("turns anything a read callback throws into a DecodeError instead of letting it escape", () => {
    const result = decodeWith(bytesOf(1), () => {
      throw new TypeError("bug in a hand-written decoder")
    })
    expectDecodeError(result, "internal decoder error: bug in a hand-written decoder")
  })

  it("lets codecs raise their own plausibility failures through fail()", () => {
    const error = expectDecodeError(
      decode(bytesOf(5), (r) => {
        const n = r.u8()
        return n > 3 ? r.fail(`value ${n} is implausible`, 0) : n
      }),
      "value 5 is implausible"
    )
    expect(error.offset).toBe(0)
  })

  it("tracks offset and remaining, and can be reset to read another frame", () => {
    const r = new BinaryReader(bytesOf(1, 2, 3))
    r.u8()
    expect([r.offset, r.remaining]).toEqual([1, 2])
    r.reset(bytesOf(4))
    expect([r.u8(), r.remaining]).toEqual([4, 0])
  })
})
