import { describe, expect, it } from "@effect/vitest"
import type { CheckResult, Model, RegisterInput, RegisterOutput } from "../../../src/testing/linearizability/index.js"
import {
  checkLinearizability,
  HistoryError,
  kvModel,
  registerModel,
  UNKNOWN
} from "../../../src/testing/linearizability/index.js"
import type { KvOp, RegOp } from "./helpers.js"
import { kvBuilder, regBuilder } from "./helpers.js"

const kv = (ops: ReadonlyArray<KvOp>) => checkLinearizability(kvModel, ops)
const reg = (ops: ReadonlyArray<RegOp>) => checkLinearizability(registerModel(0), ops)

/** The explanation of a violation (fails the test if there is none). */
const explanation = <I, O>(result: CheckResult<I, O>): string => {
  if (result.result !== "violation") throw new Error(`expected a violation, got ${JSON.stringify(result)}`)
  return result.explanation
}

describe("linearizability checker: register (README examples of Porcupine and Knossos)", () => {
  it("Porcupine example 1: put 100 ‖ get→100 ‖ get→0 is linearizable", () => {
    const b = regBuilder()
    expect(reg([b.write(0, 100, 0, 100), b.read(1, 100, 25, 75), b.read(2, 0, 30, 60)]).result).toBe("ok")
  })

  it("Porcupine example 2: get→200 returned before get→0 was called, put 200 spans both: not linearizable", () => {
    const b = regBuilder()
    const result = reg([b.write(0, 200, 0, 100), b.read(1, 200, 10, 30), b.read(2, 0, 40, 90)])
    expect(explanation(result)).toContain("read() -> 0")
  })

  it("Knossos: a crashed write of 3 concurrent with a read of 3 is linearizable", () => {
    const b = regBuilder()
    expect(reg([b.write(0, 3, 0), b.read(1, 3, 1, 2)]).result).toBe("ok")
  })

  it("a read of 3 that returned before the (crashed) write of 3 was invoked is not linearizable", () => {
    const b = regBuilder()
    expect(reg([b.read(1, 3, 0, 1), b.write(0, 3, 2)]).result).toBe("violation")
  })

  it("an empty history and a history of only unknown operations are linearizable", () => {
    const b = regBuilder()
    expect(reg([]).result).toBe("ok")
    expect(reg([b.write(0, 1, 0), b.read(1, 7, 1)]).result).toBe("ok")
  })
})

describe("linearizability checker: KV histories", () => {
  it("accepts a sequential history", () => {
    const b = kvBuilder()
    expect(kv([b.put(0, "x", "a", 0, 1), b.get(1, "x", "a", 2, 3), b.del(0, "x", 4, 5), b.get(1, "x", null, 6, 7)]).result)
      .toBe("ok")
  })

  it("rejects a stale read and names it in the explanation", () => {
    const b = kvBuilder()
    const text = explanation(kv([b.put(0, "x", "a", 0, 1), b.put(1, "x", "b", 2, 3), b.get(2, "x", "a", 4, 5)]))
    expect(text).toContain(`Cannot be linearized: #2 client 2: get("x") -> "a"  [call 4, return 5]`)
    expect(text).toContain(`State after the prefix: "b"`)
    expect(text).toContain(`partition "x"`)
  })

  it("rejects a lost acknowledged write", () => {
    const b = kvBuilder()
    const result = kv([b.put(0, "x", "a", 0, 1), b.get(1, "x", null, 2, 3)])
    expect(explanation(result)).toContain(`get("x") -> absent`)
    expect(result.result === "violation" && result.failingOperation.id).toBe(1)
  })

  it("rejects a read of a value never written", () => {
    const b = kvBuilder()
    const result = kv([b.put(0, "x", "a", 0, 1), b.get(1, "x", "zzz", 2, 3)])
    const text = explanation(result)
    expect(text).toContain(`get("x") -> "zzz"`)
    expect(text).toContain("impossible in this state")
  })

  it("rejects a read after a delete that still sees the deleted value", () => {
    const b = kvBuilder()
    expect(kv([b.put(0, "x", "a", 0, 1), b.del(0, "x", 2, 3), b.get(1, "x", "a", 4, 5)]).result).toBe("violation")
  })

  it("accepts concurrent writes observed in either order", () => {
    const b1 = kvBuilder()
    expect(kv([b1.put(0, "x", "a", 0, 10), b1.put(1, "x", "b", 1, 9), b1.get(2, "x", "a", 11, 12)]).result).toBe("ok")
    const b2 = kvBuilder()
    expect(kv([b2.put(0, "x", "a", 0, 10), b2.put(1, "x", "b", 1, 9), b2.get(2, "x", "b", 11, 12)]).result).toBe("ok")
  })

  it("rejects reads that see concurrent writes in the order a, b, a", () => {
    const b = kvBuilder()
    const ops = [
      b.put(0, "x", "a", 0, 20),
      b.put(1, "x", "b", 0, 20),
      b.get(2, "x", "a", 1, 3),
      b.get(2, "x", "b", 4, 6),
      b.get(2, "x", "a", 7, 9)
    ]
    const text = explanation(kv(ops))
    expect(text).toContain(`#4 client 2: get("x") -> "a"  [call 7, return 9]`)
  })

  it("treats operations that touch (return time = call time) as concurrent", () => {
    const b = kvBuilder()
    expect(kv([b.put(0, "x", "a", 0, 5), b.get(1, "x", null, 5, 6)]).result).toBe("ok")
  })

  describe("compare-and-set races", () => {
    const start = (b: ReturnType<typeof kvBuilder>) => b.put(0, "x", "0", 0, 1)
    it("two concurrent CAS from the same value cannot both succeed", () => {
      const b = kvBuilder()
      const text = explanation(kv([start(b), b.cas(1, "x", "0", "1", true, 2, 5), b.cas(2, "x", "0", "2", true, 3, 6)]))
      expect(text).toContain(`cas("x", "0" -> "1") -> ok`)
    })
    it("one succeeds and one fails: linearizable", () => {
      const b = kvBuilder()
      expect(kv([start(b), b.cas(1, "x", "0", "1", true, 2, 5), b.cas(2, "x", "0", "2", false, 3, 6)]).result).toBe("ok")
    })
    it("both fail although nothing else changes the value: not linearizable", () => {
      const b = kvBuilder()
      expect(kv([start(b), b.cas(1, "x", "0", "1", false, 2, 5), b.cas(2, "x", "0", "2", false, 3, 6)]).result)
        .toBe("violation")
    })
    it("a failed CAS explained by a concurrent timed-out write is linearizable", () => {
      const b = kvBuilder()
      expect(kv([start(b), b.put(3, "x", "9", 2), b.cas(1, "x", "0", "1", false, 3, 6)]).result).toBe("ok")
    })
    it("a CAS with unknown outcome may or may not have applied", () => {
      const b1 = kvBuilder()
      expect(kv([start(b1), b1.cas(1, "x", "0", "1", true, 2), b1.get(2, "x", "1", 3, 4)]).result).toBe("ok")
      const b2 = kvBuilder()
      expect(kv([start(b2), b2.cas(1, "x", "0", "1", true, 2), b2.get(2, "x", "0", 3, 4)]).result).toBe("ok")
      const b3 = kvBuilder()
      expect(kv([start(b3), b3.cas(1, "x", "5", "1", true, 2), b3.get(2, "x", "1", 3, 4)]).result).toBe("violation")
    })
  })

  describe("unknown-outcome writes", () => {
    it("may have taken effect", () => {
      const b = kvBuilder()
      expect(kv([b.put(0, "x", "a", 0, 1), b.put(1, "x", "b", 2), b.get(2, "x", "b", 5, 6)]).result).toBe("ok")
    })
    it("may never have taken effect (and the model is not asked to place them at the end)", () => {
      const b = kvBuilder()
      expect(kv([b.put(0, "x", "a", 0, 1), b.put(1, "x", "b", 2), b.get(2, "x", "a", 5, 6)]).result).toBe("ok")
    })
    it("cannot take effect and then be undone", () => {
      const b = kvBuilder()
      const ops = [b.put(0, "x", "a", 0, 1), b.put(1, "x", "b", 2), b.get(2, "x", "b", 5, 6), b.get(2, "x", "a", 7, 8)]
      expect(explanation(kv(ops))).toContain(`get("x") -> "a"  [call 7, return 8]`)
    })
    it("a timed-out write may be observed much later (it took effect late)", () => {
      const b = kvBuilder()
      const ops = [b.put(0, "x", "b", 0), b.get(1, "x", null, 1, 2), b.get(1, "x", null, 3, 4), b.get(1, "x", "b", 100, 101)]
      expect(kv(ops).result).toBe("ok")
    })
    it("cannot be observed before it was invoked", () => {
      const b = kvBuilder()
      expect(kv([b.get(1, "x", "b", 0, 1), b.put(0, "x", "b", 2)]).result).toBe("violation")
    })
    it("unknown reads constrain nothing", () => {
      const b = kvBuilder()
      expect(kv([b.put(0, "x", "a", 0, 1), b.get(1, "x", "never", 2)]).result).toBe("ok")
    })
  })

  describe("partitioning per key", () => {
    it("checks keys independently and reports the violating key", () => {
      const b = kvBuilder()
      const ops = [
        b.put(0, "x", "1", 0, 1),
        b.put(1, "y", "1", 2, 3),
        b.get(0, "x", "1", 4, 5),
        b.get(1, "y", "stale", 6, 7),
        b.get(2, "x", "1", 8, 9)
      ]
      const result = kv(ops)
      expect(result.result === "violation" && result.partition).toBe("y")
      expect(explanation(result)).toContain(`partition "y", 2 operations`)
    })
    it("operations on different keys do not constrain each other", () => {
      const b = kvBuilder()
      const result = kv([b.put(0, "x", "1", 0, 1), b.get(1, "y", null, 2, 3), b.get(1, "x", "1", 4, 5)])
      expect(result).toMatchObject({ result: "ok", partitions: 2 })
    })
  })
})

describe("linearizability checker: budgets", () => {
  // Four overlapping writes and late reads: the search needs a few dozen steps.
  const history = (b = kvBuilder()) => {
    return [
      b.put(0, "x", "a", 0, 20),
      b.put(1, "x", "b", 1, 20),
      b.put(2, "x", "c", 2, 20),
      b.put(3, "x", "d", 3, 20),
      b.get(4, "x", "a", 21, 22),
      b.put(0, "y", "a", 0, 20),
      b.get(4, "y", "a", 21, 22)
    ]
  }
  it("has a verdict with enough budget", () => {
    const r = checkLinearizability(kvModel, history())
    expect(r.result).toBe("ok")
    expect(r.steps).toBeGreaterThan(5)
  })
  it("exhausting the total step budget yields unknown, never ok", () => {
    const r = checkLinearizability(kvModel, history(), { maxSteps: 3 })
    expect(r).toMatchObject({ result: "unknown", undecided: ["x", "y"] })
    expect(r.result === "unknown" && r.reason).toContain("step budget of 3")
  })
  it("a per-partition budget leaves only the expensive partition undecided", () => {
    const r = checkLinearizability(kvModel, history(), { maxStepsPerPartition: 4 })
    expect(r).toMatchObject({ result: "unknown", undecided: ["x"] })
  })
  it("exhausting the memo budget yields unknown", () => {
    expect(checkLinearizability(kvModel, history(), { maxMemoEntries: 2 }).result).toBe("unknown")
  })
  it("a violation in a later partition still wins over an undecided earlier one", () => {
    const b = kvBuilder()
    const ops = [...history(b).filter((op) => op.input.key === "x"), b.put(9, "z", "1", 0, 1), b.get(9, "z", "2", 2, 3)]
    expect(checkLinearizability(kvModel, ops, { maxStepsPerPartition: 4 }).result).toBe("violation")
  })
})

describe("linearizability checker: model features", () => {
  /** A register whose writes may be silently lost: a nondeterministic model (state sets). */
  const lossy: Model<number, RegisterInput, RegisterOutput> = {
    ...registerModel(0),
    name: "lossy register",
    step: (state, input, output) =>
      input.type === "write"
        ? [state, input.value]
        : output === UNKNOWN || (output.type === "value" && output.value === state)
        ? [state]
        : []
  }
  it("nondeterministic steps: a lost write is fine for a lossy register, not for a register", () => {
    const b = regBuilder()
    const ops = [b.write(0, 1, 0, 1), b.read(1, 0, 2, 3)]
    expect(checkLinearizability(lossy, ops).result).toBe("ok")
    expect(checkLinearizability(registerModel(0), ops).result).toBe("violation")
  })
  it("nondeterministic steps: the state set narrows with each observation", () => {
    const b = regBuilder()
    const ops = [b.write(0, 1, 0, 1), b.read(1, 1, 2, 3), b.read(1, 0, 4, 5)]
    const r = checkLinearizability(lossy, ops)
    expect(r.result === "violation" && r.explanation).toContain("State after the prefix: 1")
  })
  it("colliding hashes are resolved with equal", () => {
    const colliding: Model<number, RegisterInput, RegisterOutput> = {
      ...registerModel(0),
      hash: () => 7,
      equal: (a, b) => a === b
    }
    const b = regBuilder()
    const ok = [b.write(0, 1, 0, 10), b.write(1, 2, 1, 10), b.read(2, 1, 11, 12), b.read(2, 1, 13, 14)]
    expect(checkLinearizability(colliding, ok).result).toBe("ok")
    const b2 = regBuilder()
    const bad = [b2.write(0, 1, 0, 1), b2.write(1, 2, 2, 3), b2.read(2, 1, 4, 5)]
    expect(checkLinearizability(colliding, bad).result).toBe("violation")
  })
  it("an unknown-outcome operation the model cannot place anywhere simply never took effect", () => {
    // A write-once register: a second write is impossible (not just a no-op). Porcupine would have
    // to place the timed-out second write after everything and would fail; it never happened.
    const writeOnce: Model<number, RegisterInput, RegisterOutput> = {
      ...registerModel(0),
      step: (state, input, output) =>
        input.type === "write"
          ? { ok: state === 0, next: input.value }
          : { ok: output === UNKNOWN || (output.type === "value" && output.value === state), next: state }
    }
    const b = regBuilder()
    expect(checkLinearizability(writeOnce, [b.write(0, 1, 0, 1), b.write(1, 2, 2), b.read(2, 1, 3, 4)]).result).toBe("ok")
    const b2 = regBuilder()
    expect(checkLinearizability(writeOnce, [b2.write(0, 1, 0, 1), b2.write(1, 2, 2, 3)]).result).toBe("violation")
  })

  it("rejects malformed histories with HistoryError", () => {
    const b = kvBuilder()
    const a = b.put(0, "x", "a", 0, 1)
    expect(() => kv([a, a])).toThrow(HistoryError)
    expect(() => kv([{ ...b.put(0, "x", "a", 5, 1) }])).toThrow(/must be finite and >= call/)
    expect(() => kv([{ ...b.put(0, "x", "a", 0, 1), output: UNKNOWN }])).toThrow(/return = Infinity/)
    expect(() => kv([{ ...b.put(0, "x", "a", 0, 1), return: Infinity }])).toThrow(HistoryError)
  })
  it("rejects an output of the wrong kind for its input (harness bug)", () => {
    const b = kvBuilder()
    expect(() => kv([{ ...b.get(0, "x", null, 0, 1), output: { type: "done" } }])).toThrow(TypeError)
  })
})
