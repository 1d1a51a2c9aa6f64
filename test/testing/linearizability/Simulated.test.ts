/**
 * The checker on histories of a simulated linearizable KV store (SimulatedKv.ts): they must all be
 * "ok", a single corrupted read must be caught, and a 20 000-operation history is timed (reported,
 * not asserted: CI machines vary).
 */
import { describe, expect, it } from "@effect/vitest"
import { performance } from "node:perf_hooks"
import {
  checkLinearizability,
  checkLogIndexes,
  kvModel,
  simulateKvHistory,
  UNKNOWN
} from "../../../src/testing/linearizability/index.js"

describe("simulated KV histories", () => {
  it("are deterministic per seed and contain timeouts and overlapping operations", () => {
    const a = simulateKvHistory({ seed: 11, operations: 500 })
    expect(simulateKvHistory({ seed: 11, operations: 500 })).toEqual(a)
    expect(simulateKvHistory({ seed: 12, operations: 500 }).operations).not.toEqual(a.operations)
    expect(a.operations).toHaveLength(500)
    expect(a.operations.some((op) => op.output === UNKNOWN)).toBe(true)
    const overlapping = a.operations.filter((op, i) => i > 0 && op.call < a.operations[i - 1]!.return).length
    expect(overlapping).toBeGreaterThan(100)
  })

  it("are linearizable for many seeds and shapes (and pass the log-index oracle)", () => {
    for (let seed = 0; seed < 40; seed++) {
      const h = simulateKvHistory({ seed, operations: 400, clients: 1 + (seed % 6), keys: 1 + (seed % 3), timeoutRate: (seed % 4) * 0.02 })
      expect(checkLinearizability(kvModel, h.operations).result, `seed ${seed}`).toBe("ok")
      expect(checkLogIndexes(h.indexed).result, `seed ${seed}`).toBe("ok")
    }
  })

  it("one corrupted read is caught and named in the explanation", () => {
    const h = simulateKvHistory({ seed: 5, operations: 3000, timeoutRate: 0.02 })
    const target = h.operations.findIndex((op, i) => i > 1500 && op.input.type === "get" && op.output !== UNKNOWN)
    const ops = h.operations.map((op, i) => (i === target ? { ...op, output: { type: "value" as const, value: "never written" } } : op))
    const result = checkLinearizability(kvModel, ops)
    expect(result.result).toBe("violation")
    if (result.result !== "violation") return
    expect(result.partition).toBe(ops[target]!.input.key)
    expect(result.failingOperation.id).toBe(ops[target]!.id)
    expect(result.explanation).toContain(`#${ops[target]!.id} client`)
    expect(result.explanation).toContain(`-> "never written"`)
  })

  it("timing report: checks a 20 000-operation history (8 clients, 16 keys, 1% timeouts)", () => {
    const h = simulateKvHistory({ seed: 1, operations: 20_000, clients: 8, keys: 16, timeoutRate: 0.01 })
    const unknown = h.operations.filter((op) => op.output === UNKNOWN).length
    const start = performance.now()
    const result = checkLinearizability(kvModel, h.operations)
    const ms = performance.now() - start
    console.log(
      `linearizability: checked ${h.operations.length} operations (${unknown} with unknown outcome) in ${ms.toFixed(0)} ms, ` +
        `${result.steps} search steps`
    )
    expect(result.result).toBe("ok")
  })
})
