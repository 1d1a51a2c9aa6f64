import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck, Schema } from "effect"
import { type BinaryCodec, type BinaryReader, decodeWith, taggedUnionCodec, U8, WIRE_VERSION } from "../../src/codec/index.js"
import {
  applyMutation,
  deepEqual,
  expectDecodeError,
  expectDecoded,
  fuzzProperty,
  roundTripProperty
} from "../../src/codec/testing.js"
import { Append, append64, Example, ExampleCodec, Ping, Pong } from "./example.js"

describe("the property harness on the example messages", () => {
  it("decode(encode(m)) equals m for 1000 generated messages of the union", () => {
    FastCheck.assert(roundTripProperty(Example, ExampleCodec), { numRuns: 1000 })
  })

  it("decode(encode(m)) equals m for each member schema", () => {
    for (const schema of [Ping, Pong, Append] as const) {
      FastCheck.assert(roundTripProperty(schema as Schema.Schema<Example>, ExampleCodec), { numRuns: 300 })
    }
  })

  it("decode never throws on 10,000 random and mutated frames, and accepts only canonical schema values", () => {
    FastCheck.assert(
      fuzzProperty(ExampleCodec, { schema: Example, seeds: [ExampleCodec.encode(append64)], canonical: true }),
      { numRuns: 10_000 }
    )
  })

  it("decode never throws on random bytes alone", () => {
    FastCheck.assert(fuzzProperty(ExampleCodec, { maxLength: 64 }), { numRuns: 2_000 })
  })
})

// A deliberately small schema for codecs with planted bugs: the harness must catch each one.
const Small = Schema.TaggedStruct("Small", { level: U8, note: Schema.optionalWith(Schema.String, { exact: true }) })
type Small = typeof Small.Type

const readSmall = (r: BinaryReader): Small => {
  const level = r.u8()
  const note = r.optional((x) => x.string())
  return note === undefined ? { _tag: "Small" as const, level } : { _tag: "Small" as const, level, note }
}

describe("the property harness catches broken codecs", () => {
  it("roundTripProperty fails for a codec that drops an optional field", () => {
    const dropsNote = taggedUnionCodec<Small>({
      Small: { type: 1, write: (w, m) => void w.u8(m.level).u8(0), read: readSmall }
    })
    expect(() => FastCheck.assert(roundTripProperty(Small, dropsNote), { numRuns: 200 })).toThrow("differs from m")
  })

  it("fuzzProperty fails for a decoder that throws on malformed input", () => {
    const good = taggedUnionCodec<Small>({
      Small: { type: 1, write: (w, m) => void w.u8(m.level).optional(m.note, (x, s) => void x.string(s)), read: readSmall }
    })
    const throwing: BinaryCodec<Small> = {
      encode: good.encode,
      decode: (bytes) => {
        if (bytes.length < 3) throw new RangeError("offset is outside the bounds of the DataView")
        return good.decode(bytes)
      }
    }
    expect(() => FastCheck.assert(fuzzProperty(throwing, { schema: Small }), { numRuns: 500 })).toThrow("decode threw")
  })

  it("fuzzProperty with canonical fails for a decoder that ignores trailing bytes", () => {
    const good = taggedUnionCodec<Small>({
      Small: { type: 1, write: (w, m) => void w.u8(m.level).optional(m.note, (x, s) => void x.string(s)), read: readSmall }
    })
    const lenient: BinaryCodec<Small> = {
      encode: good.encode,
      decode: (bytes) =>
        decodeWith(bytes, (r) => {
          if (r.u8() !== WIRE_VERSION || r.u8() !== 1) return r.fail("bad header")
          return readSmall(r) // no r.finish()
        })
    }
    expect(() => FastCheck.assert(fuzzProperty(lenient, { schema: Small, canonical: true }), { numRuns: 2_000 }))
      .toThrow("not canonical")
  })

  it("fuzzProperty with a schema fails for a decoder that accepts values outside it", () => {
    const wide = taggedUnionCodec<Small>({
      Small: {
        type: 1,
        write: (w, m) => void w.u32(m.level).u8(0),
        read: (r) => ({ _tag: "Small", level: r.u32() }) // a u32 where the schema says U8
      }
    })
    expect(() => FastCheck.assert(fuzzProperty(wide, { schema: Small }), { numRuns: 2_000 })).toThrow("outside the schema")
  })
})

describe("harness helpers", () => {
  it("deepEqual compares bytes by content and distinguishes an undefined key from an absent one", () => {
    expect(deepEqual({ a: Uint8Array.of(1, 2) }, { a: Buffer.from([1, 2]) })).toBe(true)
    expect(deepEqual({ a: Uint8Array.of(1, 2) }, { a: Uint8Array.of(1, 3) })).toBe(false)
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(false)
    expect(deepEqual({ a: 1, b: [1, { c: "x" }] }, { b: [1, { c: "x" }], a: 1 })).toBe(true)
    expect(deepEqual([1, 2], [1, 2, 3])).toBe(false)
    expect(deepEqual(Number.NaN, Number.NaN)).toBe(true)
    expect(deepEqual([1], { 0: 1 })).toBe(false)
  })

  it("applyMutation inflates a u32 in place and truncates, flips, inserts, deletes and appends", () => {
    const frame = Uint8Array.of(1, 2, 3, 4, 5, 6)
    expect(Array.from(applyMutation(frame, { kind: "inflate", at: 1, value: 0xffff_ffff }))).toEqual([1, 255, 255, 255, 255, 6])
    expect(Array.from(applyMutation(frame, { kind: "inflate", at: 4, value: 0x0102_0304 }))).toEqual([1, 2, 3, 4, 4, 3, 2, 1])
    expect(Array.from(applyMutation(frame, { kind: "truncate", at: 2 }))).toEqual([1, 2])
    expect(Array.from(applyMutation(frame, { kind: "flip", at: 0, bit: 7 }))).toEqual([129, 2, 3, 4, 5, 6])
    expect(Array.from(applyMutation(frame, { kind: "insert", at: 6, value: 9 }))).toEqual([1, 2, 3, 4, 5, 6, 9])
    expect(Array.from(applyMutation(frame, { kind: "delete", at: 7 }))).toEqual([1, 3, 4, 5, 6])
    expect(Array.from(applyMutation(frame, { kind: "append", bytes: Uint8Array.of(7) }))).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(Array.from(frame)).toEqual([1, 2, 3, 4, 5, 6]) // the original is never modified
  })

  it("expectDecodeError and expectDecoded fail loudly on the other outcome", () => {
    expect(() => expectDecodeError(Either.right(1))).toThrow("expected a DecodeError")
    expect(() => expectDecoded(ExampleCodec.decode(new Uint8Array(0)))).toThrow("expected a decoded value")
    expect(() => expectDecodeError(ExampleCodec.decode(new Uint8Array(0)), "no such reason")).toThrow("matching")
  })
})
