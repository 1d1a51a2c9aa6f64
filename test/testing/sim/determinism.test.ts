import { describe, expect, it } from "@effect/vitest"
import { runSeed } from "../../../src/testing/sim/runSeed.js"

describe("simulation determinism", () => {
  it("the same seed twice gives the same trace hash and outcome; another seed differs", () => {
    // Seed 32 draws every operator family and a disk loss (a node added mid-run).
    for (const seed of [7, 32, 1234, 99_999]) {
      const a = runSeed({ seed, operations: 150 })
      const b = runSeed({ seed, operations: 150 })
      expect(b.traceHash).toBe(a.traceHash)
      expect(b.operations).toEqual(a.operations)
      expect(b.virtualMs).toBe(a.virtualMs)
      expect(b.operator).toEqual(a.operator)
      expect(b.stats).toEqual(a.stats)
    }
    expect(runSeed({ seed: 8, operations: 150 }).traceHash).not.toBe(runSeed({ seed: 7, operations: 150 }).traceHash)
  })

  it("the printed reproduction (seed plus its cluster size) replays the same run", () => {
    const a = runSeed({ seed: 32, operations: 100 })
    expect(runSeed({ seed: 32, operations: 100, nodes: a.nodes }).traceHash).toBe(a.traceHash)
  })
})
