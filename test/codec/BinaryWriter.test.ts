import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { BinaryReader, BinaryWriter, MAX_UINT53 } from "../../src/codec/index.js"
import { bytesEqual } from "../../src/codec/testing.js"

/** Writes with `write`, then reads back with `read` and checks the whole frame was consumed. */
const roundTrip = <A>(write: (w: BinaryWriter) => void, read: (r: BinaryReader) => A): A => {
  const w = new BinaryWriter(1)
  write(w)
  const r = new BinaryReader(w.finish())
  const value = read(r)
  r.finish()
  return value
}

const encoded = (write: (w: BinaryWriter) => void): Uint8Array => {
  const w = new BinaryWriter()
  write(w)
  return w.finish()
}

const TWO_POW_32 = 2 ** 32
const INTEGER_EDGES = [0, 1, 127, 128, 255, 256, 16_383, 16_384, 65_535, 65_536, 2 ** 31 - 1, 2 ** 31, TWO_POW_32 - 1, TWO_POW_32, TWO_POW_32 + 1, 2 ** 49 - 1, 2 ** 49, 2 ** 52, MAX_UINT53 - 1, MAX_UINT53]

describe("BinaryWriter and BinaryReader", () => {
  it("round-trip fixed-width integers at the edges of their domain", () => {
    for (const v of [0, 1, 254, 255]) expect(roundTrip((w) => w.u8(v), (r) => r.u8())).toBe(v)
    for (const v of [0, 1, 256, 65_535]) expect(roundTrip((w) => w.u16(v), (r) => r.u16())).toBe(v)
    for (const v of [0, 1, 65_536, 2 ** 31, TWO_POW_32 - 1]) expect(roundTrip((w) => w.u32(v), (r) => r.u32())).toBe(v)
  })

  it("round-trips uint53 and varuint from 0 through 2^32 to 2^53-1", () => {
    for (const v of INTEGER_EDGES) {
      expect(roundTrip((w) => w.uint53(v), (r) => r.uint53())).toBe(v)
      expect(roundTrip((w) => w.varuint(v), (r) => r.varuint())).toBe(v)
    }
  })

  it("round-trips every safe non-negative integer (property)", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.maxSafeNat(), (v) => {
        const [fixed, leb] = roundTrip((w) => w.uint53(v).varuint(v), (r) => [r.uint53(), r.varuint()])
        return fixed === v && leb === v
      }),
      { numRuns: 2000 }
    )
  })

  it("writes integers little-endian, uint53 as low then high u32", () => {
    expect(Array.from(encoded((w) => w.u16(0x0102).u32(0x03040506)))).toEqual([2, 1, 6, 5, 4, 3])
    expect(Array.from(encoded((w) => w.uint53(TWO_POW_32 + 2)))).toEqual([2, 0, 0, 0, 1, 0, 0, 0])
    expect(Array.from(encoded((w) => w.uint53(MAX_UINT53)))).toEqual([255, 255, 255, 255, 255, 255, 31, 0])
  })

  it("writes varuint as canonical LEB128 of 1 to 8 bytes", () => {
    expect(Array.from(encoded((w) => w.varuint(0)))).toEqual([0])
    expect(Array.from(encoded((w) => w.varuint(127)))).toEqual([127])
    expect(Array.from(encoded((w) => w.varuint(128)))).toEqual([0x80, 1])
    expect(Array.from(encoded((w) => w.varuint(300)))).toEqual([0xac, 0x02])
    expect(encoded((w) => w.varuint(2 ** 31)).length).toBe(5)
    expect(encoded((w) => w.varuint(TWO_POW_32)).length).toBe(5)
    expect(Array.from(encoded((w) => w.varuint(MAX_UINT53)))).toEqual([255, 255, 255, 255, 255, 255, 255, 0x0f])
  })

  it("rejects values outside a field's domain with RangeError instead of wrapping them", () => {
    const w = new BinaryWriter()
    expect(() => w.u8(256)).toThrow(RangeError)
    expect(() => w.u8(-1)).toThrow(RangeError)
    expect(() => w.u8(1.5)).toThrow(RangeError)
    expect(() => w.u16(65_536)).toThrow(RangeError)
    expect(() => w.u32(TWO_POW_32)).toThrow(RangeError)
    expect(() => w.u32(Number.NaN)).toThrow(RangeError)
    expect(() => w.uint53(MAX_UINT53 + 1)).toThrow(RangeError)
    expect(() => w.uint53(-1)).toThrow(RangeError)
    expect(() => w.uint53(0.5)).toThrow(RangeError)
    expect(() => w.varuint(Number.POSITIVE_INFINITY)).toThrow(RangeError)
    expect(() => w.varuint(-1)).toThrow(RangeError)
    expect(w.length).toBe(0)
  })

  it("round-trips bool, optional and arrays", () => {
    expect(roundTrip((w) => w.bool(true).bool(false), (r) => [r.bool(), r.bool()])).toEqual([true, false])
    const writeU32 = (w: BinaryWriter, v: number) => {
      w.u32(v)
    }
    const readU32 = (r: BinaryReader) => r.u32()
    expect(roundTrip((w) => w.optional(7, writeU32).optional(undefined, writeU32), (r) => [r.optional(readU32), r.optional(readU32)]))
      .toEqual([7, undefined])
    expect(roundTrip((w) => w.array([], writeU32), (r) => r.array(readU32))).toEqual([])
    const many = Array.from({ length: 1000 }, (_, i) => i * 7919)
    expect(roundTrip((w) => w.array(many, writeU32), (r) => r.array(readU32))).toEqual(many)
  })

  it("round-trips empty, small and large byte fields", () => {
    for (const size of [0, 1, 255, 70_000, 1 << 20]) {
      const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff)
      // bytesEqual, not toEqual: vitest's deep equality is very slow on megabyte arrays.
      expect(bytesEqual(roundTrip((w) => w.bytes(bytes), (r) => r.bytes()), bytes)).toBe(true)
    }
  })

  it("round-trips empty, ASCII, multi-byte and huge strings", () => {
    const cases = [
      "",
      "a",
      "client-42:7",
      "y".repeat(32), // longest string on the reader's ASCII fast path
      "y".repeat(33),
      "y".repeat(31) + "é", // non-ASCII found last on the reader's fast path
      "z".repeat(32),
      "x".repeat(64), // last length on the writer's ASCII fast path
      "x".repeat(65), // first length past it
      "héllo wörld",
      "日本語のテキスト",
      "emoji 😀 and 𝄞 (surrogate pairs)",
      "\u0000nul inside\u0000",
      "\uFEFFleading byte-order mark is kept",
      "é".repeat(64) + "x", // non-ASCII found late on the fast path
      "a".repeat(1_000_000),
      "ü".repeat(300_000)
    ]
    for (const s of cases) expect(roundTrip((w) => w.string(s), (r) => r.string())).toBe(s)
  })

  it("round-trips any well-formed Unicode string (property)", () => {
    const wellFormed = FastCheck.string({ unit: "binary", maxLength: 200 }).filter((s) => !/\p{Cs}/u.test(s))
    FastCheck.assert(
      FastCheck.property(wellFormed, (s) => roundTrip((w) => w.string(s), (r) => r.string()) === s),
      { numRuns: 2000 }
    )
  })

  it("prefixes strings with their UTF-8 byte length, not their UTF-16 length", () => {
    const bytes = encoded((w) => w.string("é😀"))
    expect(bytes.length).toBe(4 + 2 + 4)
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(6)
  })

  it("writes a lone surrogate as U+FFFD, as TextEncoder does", () => {
    expect(roundTrip((w) => w.string("a\uD800b"), (r) => r.string())).toBe("a\uFFFDb")
  })

  it("grows from a tiny buffer without losing what was written", () => {
    const w = new BinaryWriter(1)
    for (let i = 0; i < 10_000; i++) w.u32(i)
    expect(w.length).toBe(40_000)
    const r = new BinaryReader(w.finish())
    const read = Array.from({ length: 10_000 }, () => r.u32())
    r.finish()
    expect(read.every((v, i) => v === i)).toBe(true)
  })

  it("finish() copies while finishView() aliases the reused buffer", () => {
    const w = new BinaryWriter()
    w.u8(1)
    const copy = w.finish()
    const view = w.finishView()
    w.reset().u8(2)
    expect(copy[0]).toBe(1)
    expect(view[0]).toBe(2)
    expect(w.length).toBe(1)
  })
})
