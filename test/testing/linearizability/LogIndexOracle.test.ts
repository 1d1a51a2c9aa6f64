import { describe, expect, it } from "@effect/vitest"
import type { IndexedOperation } from "../../../src/testing/linearizability/index.js"
import { checkLogIndexes, simulateKvHistory } from "../../../src/testing/linearizability/index.js"

const write = (id: number, value: string | null, index: number | undefined, call: number, ret: number): IndexedOperation =>
  index === undefined
    ? { kind: "write", id, key: "x", value, call, return: ret }
    : { kind: "write", id, key: "x", value, call, return: ret, index }
const read = (id: number, value: string | null, fence: number, call: number, ret: number): IndexedOperation => ({
  kind: "read",
  id,
  key: "x",
  value,
  call,
  return: ret,
  index: fence
})

const violations = (ops: ReadonlyArray<IndexedOperation>): ReadonlyArray<string> => {
  const r = checkLogIndexes(ops)
  return r.result === "ok" ? [] : r.violations
}

describe("checkLogIndexes", () => {
  it("accepts a consistent history, including concurrent writes committed in either order", () => {
    expect(checkLogIndexes([
      write(0, "a", 2, 0, 10),
      write(1, "b", 1, 1, 9),
      read(2, "a", 2, 11, 12),
      read(3, "b", 1, 5, 6), // concurrent with both writes: may be served at index 1
      read(4, null, 0, 0, 1),
      write(5, "c", 3, 12, Infinity), // timed out but committed
      write(6, "d", undefined, 13, Infinity), // timed out, never committed
      read(7, "c", 3, 20, 21)
    ])).toEqual({ result: "ok" })
  })

  it("reports two writes at one index", () => {
    expect(violations([write(0, "a", 1, 0, 1), write(1, "b", 1, 2, 3)])[0]).toContain("two writes at log index 1")
  })

  it("reports a write committed before a write that returned before it was invoked", () => {
    const v = violations([write(0, "a", 2, 0, 1), write(1, "b", 1, 2, 3)])
    expect(v).toHaveLength(1)
    expect(v[0]).toContain("real-time order broken: #0 write")
  })

  it("reports a read served below a write that completed before the read was invoked (stale read)", () => {
    const v = violations([write(0, "a", 1, 0, 1), read(1, null, 0, 2, 3)])
    expect(v[0]).toContain("real-time order broken")
    expect(v[0]).toContain("#1 read")
  })

  it("reports a write ordered at or below the fence of a read that returned before it was invoked", () => {
    expect(violations([read(0, null, 1, 0, 1), write(1, "a", 1, 2, 3)]).join("\n")).toContain("real-time order broken")
  })

  it("reports a read whose value is not the latest write at its fence", () => {
    const v = violations([write(0, "a", 1, 0, 1), write(1, "b", 2, 2, 3), read(2, "a", 2, 4, 5)])
    expect(v).toHaveLength(1)
    expect(v[0]).toContain(`read returned "a", expected "b"`)
  })

  it("reports a completed write with no index", () => {
    expect(violations([write(0, "a", undefined, 0, 1)])[0]).toContain("completed write has no log index")
  })

  it("accepts simulated histories and catches a corrupted read in one", () => {
    const { indexed } = simulateKvHistory({ seed: 3, operations: 2000, timeoutRate: 0.05 })
    expect(checkLogIndexes(indexed)).toEqual({ result: "ok" })
    const i = indexed.findIndex((op) => op.kind === "read" && op.value !== null)
    const corrupted = indexed.map((op, j) => (j === i ? { ...op, value: "never written" } : op))
    expect(violations(corrupted)[0]).toContain(`read returned "never written"`)
  })
})
