/**
 * How the checker spends and bounds its budgets: partitions take turns with growing allowances
 * (a hard partition cannot starve the others), options are validated with a typed error, and no
 * option value makes the checker throw (the memo grows on demand; it once threw a RangeError
 * past 2^24 entries).
 */
import { describe, expect, it } from "@effect/vitest"
import type { AppendKvInput, AppendKvOutput, CheckOptions, Operation } from "../../../src/testing/linearizability/index.js"
import {
  appendKvModel,
  checkLinearizability,
  CheckOptionsError,
  kvModel
} from "../../../src/testing/linearizability/index.js"
import { kvBuilder } from "./helpers.js"

type Op = Operation<AppendKvInput, AppendKvOutput>

/**
 * Key "x": `n` concurrent appends, then a read of a value no order of them produces. Every order
 * gives a distinct state, so refuting it takes about e·n! steps: 10 appends are out of reach of
 * any budget used here.
 */
const hardKey = (n: number): Array<Op> => {
  const ops: Array<Op> = []
  for (let i = 0; i < n; i++) {
    ops.push({ id: i, clientId: i, input: { type: "append", key: "x", value: `<${i}>` }, output: { type: "done" }, call: i, return: 100 })
  }
  ops.push({ id: n, clientId: n, input: { type: "get", key: "x" }, output: { type: "value", value: "<none>" }, call: 101, return: 102 })
  return ops
}

/** Key "y": a put of "a", then a read of "b" — refuted in a handful of steps. */
const badKey = (firstId: number): Array<Op> => [
  { id: firstId, clientId: 50, input: { type: "put", key: "y", value: "a" }, output: { type: "done" }, call: 200, return: 201 },
  { id: firstId + 1, clientId: 51, input: { type: "get", key: "y" }, output: { type: "value", value: "b" }, call: 202, return: 203 }
]

describe("partitions share the step budget in turns", () => {
  it("a violation in a cheap partition is found behind an undecidable one", () => {
    const ops = [...hardKey(10), ...badKey(11)]
    const result = checkLinearizability(appendKvModel, ops, { maxSteps: 100_000 })
    expect(result).toMatchObject({ result: "violation", partition: "y" })
    // The hard key got at most the first turns' allowance before "y" was refuted.
    expect(result.steps).toBeLessThan(10_000)
  })

  it("the hard partition alone is undecided, and reported as such", () => {
    const result = checkLinearizability(appendKvModel, hardKey(10), { maxSteps: 100_000 })
    expect(result).toMatchObject({ result: "unknown", undecided: ["x"], steps: 100_000 })
    expect(result.result === "unknown" && result.reason).toContain("step budget of 100000 exhausted")
  })

  it("a small hard partition is decided once its turn's allowance suffices", () => {
    // 5 appends: a few hundred steps, more than the first turn of the other key needs.
    expect(checkLinearizability(appendKvModel, [...hardKey(5), ...badKey(6)]).result).toBe("violation")
    const okKeys = hardKey(5).slice(0, 5)
    expect(checkLinearizability(appendKvModel, okKeys)).toMatchObject({ result: "ok", partitions: 1 })
  })

  it("a per-partition cap leaves that partition undecided and lets the others finish", () => {
    const fine: Array<Op> = [
      { id: 20, clientId: 20, input: { type: "put", key: "z", value: "1" }, output: { type: "done" }, call: 300, return: 301 },
      { id: 21, clientId: 21, input: { type: "get", key: "z" }, output: { type: "value", value: "1" }, call: 302, return: 303 }
    ]
    const result = checkLinearizability(appendKvModel, [...hardKey(10), ...fine], { maxStepsPerPartition: 50_000 })
    expect(result).toMatchObject({ result: "unknown", undecided: ["x"] })
    expect(result.result === "unknown" && result.reason).toContain("50000 per partition")
    expect(result.steps).toBeLessThan(60_000)
    // With "y" added, its violation still wins over the undecided "x".
    const withBad = checkLinearizability(appendKvModel, [...hardKey(10), ...fine, ...badKey(30)], { maxStepsPerPartition: 50_000 })
    expect(withBad).toMatchObject({ result: "violation", partition: "y" })
  })
})

describe("options", () => {
  const b = kvBuilder()
  const history = [b.put(0, "x", "a", 0, 10), b.put(1, "x", "b", 1, 10), b.get(2, "x", "b", 11, 12)]

  it("rejects a value that is not a count with a typed CheckOptionsError", () => {
    const bad: Array<[keyof CheckOptions, unknown]> = [
      ["maxSteps", -1],
      ["maxSteps", 1.5],
      ["maxStepsPerPartition", Number.NaN],
      ["maxMemoEntries", -Infinity],
      ["maxMemoEntries", "1000"],
      ["maxMemoEntries", null]
    ]
    for (const [option, value] of bad) {
      let caught: unknown
      try {
        checkLinearizability(kvModel, history, { [option]: value } as CheckOptions)
      } catch (e) {
        caught = e
      }
      expect(caught).toBeInstanceOf(CheckOptionsError)
      expect(caught).toMatchObject({ _tag: "CheckOptionsError", option, value })
    }
  })

  it("accepts any count, however large, including Infinity, without allocating for it", () => {
    const huge = [2 ** 24, 2 ** 24 + 1, 2 ** 31, 2 ** 53, Number.MAX_VALUE, Infinity]
    for (const n of huge) {
      expect(checkLinearizability(kvModel, history, { maxMemoEntries: n }).result).toBe("ok")
      expect(checkLinearizability(kvModel, history, { maxSteps: n, maxStepsPerPartition: n }).result).toBe("ok")
    }
    expect(checkLinearizability(kvModel, history, { maxSteps: 0 }).result).toBe("unknown")
    expect(checkLinearizability(kvModel, history, { maxMemoEntries: 0 }).result).toBe("unknown")
  })
})
