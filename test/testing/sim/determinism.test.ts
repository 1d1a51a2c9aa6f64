import { describe, expect, it } from "@effect/vitest"
import { runSeed } from "../../../src/testing/sim/runSeed.js"

describe("simulation determinism", () => {
  it("the same seed twice gives the same trace hash and outcome; another seed differs", () => {
    for (const seed of [7, 1234, 99_999]) {
      const a = runSeed({ seed, operations: 150 })
      const b = runSeed({ seed, operations: 150 })
      expect(b.traceHash).toBe(a.traceHash)
      expect(b.operations).toEqual(a.operations)
      expect(b.virtualMs).toBe(a.virtualMs)
    }
    expect(runSeed({ seed: 8, operations: 150 }).traceHash).not.toBe(runSeed({ seed: 7, operations: 150 }).traceHash)
  })
})
