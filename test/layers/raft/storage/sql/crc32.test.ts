import { describe, expect, it } from "@effect/vitest"
import { crc32, crc32Portable } from "../../../../../layers/raft/storage/sql/crc32.js"

const ascii = (s: string) => new TextEncoder().encode(s)

describe("crc32", () => {
  it("gives the standard check value of CRC-32/IEEE for \"123456789\", natively and in JS", () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926)
    expect(crc32Portable(ascii("123456789"), 0)).toBe(0xcbf43926)
  })

  it("continues from a seed: crc(b, crc(a)) equals crc(a ++ b), and both implementations agree", () => {
    let x = 12345
    const bytes = Uint8Array.from({ length: 4096 }, () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24)
    const whole = crc32(bytes)
    expect(crc32(bytes.subarray(1000), crc32(bytes.subarray(0, 1000)))).toBe(whole)
    expect(crc32Portable(bytes, 0)).toBe(whole)
  })

  it("leaves the seed unchanged for empty input, including an empty Buffer without backing memory", () => {
    expect(crc32(new Uint8Array(0), 0xdeadbeef)).toBe(0xdeadbeef)
    expect(crc32(Buffer.alloc(0), 77)).toBe(77)
  })
})
