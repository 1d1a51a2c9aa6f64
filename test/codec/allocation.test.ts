import { describe, expect, it } from "@effect/vitest"
import { type BinaryReader, BinaryWriter, decodeWith, WIRE_VERSION } from "../../src/codec/index.js"
import { expectDecodeError } from "../../src/codec/testing.js"
import { APPEND, makeExampleCodec, PING } from "./example.js"

/**
 * Runs `f` with `globalThis.Uint8Array` replaced by a spy that records the size of every array
 * constructed (by length or as a view of a buffer), then restores it.
 */
const recordingUint8Arrays = <A>(f: () => A): { readonly result: A; readonly sizes: ReadonlyArray<number> } => {
  const original = globalThis.Uint8Array
  const sizes: Array<number> = []
  globalThis.Uint8Array = new Proxy(original, {
    construct(target, args, newTarget) {
      const [first, , length] = args as [unknown, unknown, unknown]
      if (typeof first === "number") sizes.push(first)
      else if (typeof length === "number") sizes.push(length)
      return Reflect.construct(target, args, newTarget) as object
    }
  })
  try {
    return { result: f(), sizes }
  } finally {
    globalThis.Uint8Array = original
  }
}

const inflated = (...prefix: ReadonlyArray<number>): Uint8Array => {
  const w = new BinaryWriter()
  for (const b of prefix) w.u8(b)
  return w.u32(0xffff_ffff).finish()
}

describe("an inflated length prefix", () => {
  it("fails before anything the size of the prefix is allocated", () => {
    const before = process.memoryUsage().arrayBuffers
    const readers: ReadonlyArray<(r: BinaryReader) => unknown> = [
      (r) => r.bytes(),
      (r) => r.string(),
      (r) => r.array((x) => x.u8())
    ]
    for (const read of readers) {
      for (const copyBytes of [false, true]) {
        const frame = inflated(0xaa)
        const { result, sizes } = recordingUint8Arrays(() =>
          decodeWith(frame, (r) => {
            r.u8()
            return read(r)
          }, { copyBytes })
        )
        const error = expectDecodeError(result, /exceeds|cannot fit/)
        expect(error.offset).toBe(1)
        expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(frame.length)
      }
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024)
  })

  it("inside a whole frame is a DecodeError, with or without copyBytes", () => {
    for (const codec of [makeExampleCodec(), makeExampleCodec({ copyBytes: true })]) {
      // Ping: term (8 bytes), nonce (4), then the payload's length prefix.
      const ping = inflated(WIRE_VERSION, PING, ...new Array(12).fill(0))
      const { result, sizes } = recordingUint8Arrays(() => codec.decode(ping))
      expectDecodeError(result, "bytes length 4294967295 exceeds the 0 remaining bytes")
      expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(ping.length)
      // Append: three uint53, a u8 and a u16, then the entry count.
      const append = inflated(WIRE_VERSION, APPEND, ...new Array(27).fill(0))
      expectDecodeError(codec.decode(append), "array count 4294967295 exceeds maximum 65536")
      // Under the maximum but more entries than the frame could hold (7 bytes each at least).
      const crowded = new BinaryWriter().u8(WIRE_VERSION).u8(APPEND)
      for (let i = 0; i < 27; i++) crowded.u8(0)
      const tooMany = crowded.u32(1000).u8(0).finish()
      expectDecodeError(codec.decode(tooMany), "array count 1000 cannot fit in the 1 remaining bytes")
    }
  })

  it("is what the spy would catch: a real allocation of that size is recorded", () => {
    // Guards the guard: if the spy recorded nothing, the tests above could not fail.
    const { sizes } = recordingUint8Arrays(() => new Uint8Array(1 << 20))
    expect(sizes).toEqual([1 << 20])
  })
})
