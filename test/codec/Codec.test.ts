import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import {
  type BinaryCodec,
  DecodeError,
  readFrameHeader,
  taggedUnionCodec,
  WIRE_VERSION
} from "../../src/codec/index.js"
import { expectDecodeError, expectDecoded } from "../../src/codec/testing.js"
import { append64, APPEND, type Example, ExampleCodec, makeExampleCodec, PING, type Ping, PONG } from "./example.js"

const ping: Ping = { _tag: "Ping", term: 3, nonce: 42, payload: Uint8Array.of(1, 2, 3), note: "hi" }

describe("frames", () => {
  it("start with the wire version and the type byte", () => {
    expect(WIRE_VERSION).toBe(1)
    const frame = ExampleCodec.encode(ping)
    expect([frame[0], frame[1]]).toEqual([WIRE_VERSION, PING])
    expect(ExampleCodec.encode({ _tag: "Pong", term: 0, nonce: 0, ok: true })[1]).toBe(PONG)
    expect(ExampleCodec.encode(append64)[1]).toBe(APPEND)
    expect(readFrameHeader(frame)).toEqual(Either.right({ version: WIRE_VERSION, type: PING }))
  })

  it("headers shorter than two bytes or of another version are DecodeErrors", () => {
    expectDecodeError(readFrameHeader(new Uint8Array(0)), "truncated frame header")
    expectDecodeError(readFrameHeader(Uint8Array.of(WIRE_VERSION)), "truncated frame header")
    expectDecodeError(readFrameHeader(Uint8Array.of(WIRE_VERSION + 1, PING)), "unsupported version 2")
  })
})

describe("taggedUnionCodec", () => {
  it("round-trips each member of the union", () => {
    const messages: ReadonlyArray<Example> = [
      ping,
      { _tag: "Ping", term: 0, nonce: 0, payload: new Uint8Array(0) },
      { _tag: "Pong", term: Number.MAX_SAFE_INTEGER, nonce: 0xffff_ffff, ok: false },
      append64,
      { ...append64, entries: [] }
    ]
    for (const m of messages) expect(expectDecoded(ExampleCodec.decode(ExampleCodec.encode(m)))).toEqual(m)
  })

  it("leaves an absent optional field absent rather than undefined", () => {
    const decoded = expectDecoded(ExampleCodec.decode(ExampleCodec.encode({ ...ping, note: undefined! })))
    expect(Object.keys(decoded)).not.toContain("note")
  })

  it("rejects an unsupported version, an unknown type, truncation and trailing bytes", () => {
    const frame = ExampleCodec.encode(ping)
    expectDecodeError(ExampleCodec.decode(new Uint8Array(0)), "truncated")
    expectDecodeError(ExampleCodec.decode(Uint8Array.of(WIRE_VERSION)), "truncated")
    const otherVersion = frame.slice()
    otherVersion[0] = 9
    expect(expectDecodeError(ExampleCodec.decode(otherVersion), "unsupported version 9").offset).toBe(0)
    const unknownType = frame.slice()
    unknownType[1] = 200
    expect(expectDecodeError(ExampleCodec.decode(unknownType), "unknown type 200").offset).toBe(1)
    // Cutting the last byte of the note leaves its length prefix pointing past the end.
    expectDecodeError(ExampleCodec.decode(frame.subarray(0, frame.length - 1)), "exceeds the 1 remaining bytes")
    const trailing = new Uint8Array(frame.length + 1)
    trailing.set(frame)
    expectDecodeError(ExampleCodec.decode(trailing), "1 trailing bytes")
  })

  it("copies byte fields out of the frame when built with copyBytes", () => {
    const frame = ExampleCodec.encode(ping)
    const shared = expectDecoded(ExampleCodec.decode(frame))
    const copied = expectDecoded(makeExampleCodec({ copyBytes: true }).decode(frame))
    frame.fill(0)
    expect(shared._tag === "Ping" && Array.from(shared.payload)).toEqual([0, 0, 0])
    expect(copied._tag === "Ping" && Array.from(copied.payload)).toEqual([1, 2, 3])
  })

  it("treats a value outside the Schema type as a defect at encode time", () => {
    expect(() => ExampleCodec.encode({ ...ping, term: 1.5 })).toThrow(RangeError)
    expect(() => ExampleCodec.encode({ ...ping, nonce: -1 })).toThrow(RangeError)
    // The scratch writer is still usable after a failed encode.
    expect(expectDecoded(ExampleCodec.decode(ExampleCodec.encode(ping)))).toEqual(ping)
  })

  it("returns independent frames from its reused scratch writer", () => {
    const a = ExampleCodec.encode(ping)
    const b = ExampleCodec.encode({ ...ping, nonce: 7 })
    expect(expectDecoded(ExampleCodec.decode(a))).toEqual(ping)
    expect(expectDecoded(ExampleCodec.decode(b))).toEqual({ ...ping, nonce: 7 })
  })

  it("survives a re-entrant encode of a nested frame with the same codec", () => {
    type Nest = { readonly _tag: "Leaf"; readonly n: number } | { readonly _tag: "Wrap"; readonly inner: Nest }
    const codec: BinaryCodec<Nest> = taggedUnionCodec<Nest>({
      Leaf: { type: 1, write: (w, m) => void w.u32(m.n), read: (r) => ({ _tag: "Leaf", n: r.u32() }) },
      Wrap: {
        type: 2,
        write: (w, m) => void w.u8(0xaa).bytes(codec.encode(m.inner)).u8(0xbb),
        read: (r) => {
          r.u8()
          const inner = Either.getOrThrow(codec.decode(r.bytes()))
          r.u8()
          return { _tag: "Wrap", inner }
        }
      }
    })
    const nested: Nest = { _tag: "Wrap", inner: { _tag: "Wrap", inner: { _tag: "Leaf", n: 5 } } }
    expect(expectDecoded(codec.decode(codec.encode(nested)))).toEqual(nested)
  })

  it("refuses a codec table with a duplicate or out-of-range type byte", () => {
    type AB = { readonly _tag: "A" } | { readonly _tag: "B" }
    const body = { write: () => {}, read: () => ({ _tag: "A" as const }) }
    expect(() =>
      taggedUnionCodec<AB>({ A: { type: 1, ...body }, B: { type: 1, write: () => {}, read: () => ({ _tag: "B" }) } })
    ).toThrow("used by two tags")
    expect(() =>
      taggedUnionCodec<AB>({ A: { type: 256, ...body }, B: { type: 2, write: () => {}, read: () => ({ _tag: "B" }) } })
    ).toThrow("not a u8")
  })

  it("DecodeError is a yieldable tagged error usable as an Effect failure", () =>
    Effect.gen(function*() {
      const error = expectDecodeError(ExampleCodec.decode(new Uint8Array(0)))
      const caught = yield* Effect.flip(error)
      expect(caught).toBeInstanceOf(DecodeError)
      expect(caught._tag).toBe("DecodeError")
    }).pipe(Effect.runSync))
})
