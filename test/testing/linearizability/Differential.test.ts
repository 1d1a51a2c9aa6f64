/**
 * Differential test: the WGL checker against a brute-force checker that tries every order of the
 * operations consistent with real time (unknown-outcome operations may be left out), on thousands
 * of small random histories. The brute force shares nothing with the checker but the model's
 * `step`: no linked list, no memo, no partitioning (it keeps a map of all keys), and it follows
 * every branch of a nondeterministic step separately instead of tracking state sets.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type {
  KvInput,
  KvOutput,
  KvState,
  Model,
  Operation,
  RegisterInput,
  RegisterOutput
} from "../../../src/testing/linearizability/index.js"
import { checkLinearizability, kvModel, registerModel, UNKNOWN } from "../../../src/testing/linearizability/index.js"
import { bruteForce, states } from "./helpers.js"

type KvOp = Operation<KvInput, KvOutput>
type KvMap = ReadonlyMap<string, KvState>

const bruteForceKv = (ops: ReadonlyArray<KvOp>): boolean =>
  bruteForce<KvMap, KvInput, KvOutput>(ops, new Map(), (map, op) =>
    states(kvModel.step(map.get(op.input.key) ?? null, op.input, op.output)).map((v) => new Map(map).set(op.input.key, v)))

/** Runs both checkers and tallies verdicts; fails on disagreement or on "unknown". */
const tally = () => {
  const counts = { ok: 0, violation: 0 }
  const agree = <S, I, O>(model: Model<S, I, O>, ops: ReadonlyArray<Operation<I, O>>, expected: boolean): boolean => {
    const result = checkLinearizability(model, ops)
    if (result.result === "unknown") return false
    if (result.result === "violation") {
      // The explanation names an operation of the history whose outcome is known.
      if (!ops.includes(result.failingOperation) || result.failingOperation.output === UNKNOWN) return false
    }
    counts[result.result]++
    return (result.result === "ok") === expected
  }
  return { counts, agree }
}

// ---- generator A: arbitrary small KV histories (outputs unrelated to any execution) ----
const smallValue = fc.constantFrom("1", "2", "3")
const arbitraryKvOp = fc.record({
  type: fc.constantFrom("get", "put", "delete", "cas"),
  key: fc.constantFrom("a", "b"),
  value: smallValue,
  from: fc.option(smallValue, { nil: null }),
  read: fc.option(smallValue, { nil: null }),
  ok: fc.boolean(),
  call: fc.nat(12),
  length: fc.nat(6)
})
/** `unknownOneIn`: each operation has an unknown outcome with probability 1 / unknownOneIn. */
const arbitraryKvHistory = (unknownOneIn: number, maxLength: number) =>
  fc.tuple(fc.array(fc.tuple(arbitraryKvOp, fc.nat(unknownOneIn - 1)), { minLength: 1, maxLength }), fc.boolean()).map(
  ([specs, oneKey]) =>
    specs.map(([s, unknownDraw], id): KvOp => {
      const key = oneKey ? "a" : s.key
      const input: KvInput = s.type === "get"
        ? { type: "get", key }
        : s.type === "put"
        ? { type: "put", key, value: s.value }
        : s.type === "delete"
        ? { type: "delete", key }
        : { type: "cas", key, from: s.from, to: s.value }
      const output: KvOutput = s.type === "get"
        ? { type: "value", value: s.read }
        : s.type === "cas"
        ? { type: "cas", ok: s.ok }
        : { type: "done" }
      const unknown = unknownDraw === 0
      return {
        id,
        clientId: id,
        input,
        output: unknown ? UNKNOWN : output,
        call: s.call,
        return: unknown ? Infinity : s.call + s.length
      }
    })
  )

// ---- generator B: a real sequential execution, given random overlapping intervals, maybe mutated ----
const executedKvHistory = (mutationPercent: number) => fc.record({
  keys: fc.integer({ min: 1, max: 2 }),
  ops: fc.array(
    fc.record({
      kind: fc.nat(9),
      key: fc.nat(1),
      casCurrent: fc.boolean(),
      before: fc.nat(25),
      after: fc.nat(25),
      unknown: fc.nat(7),
      applied: fc.boolean()
    }),
    { minLength: 1, maxLength: 7 }
  ),
  mutate: fc.nat(99),
  mutateAt: fc.nat(6),
  mutateTo: fc.option(fc.nat(7), { nil: null })
}).map(({ keys, ops, mutate, mutateAt, mutateTo }) => {
  const store = new Map<string, string>()
  const history = ops.map((s, i): KvOp => {
    const key = `k${s.key % keys}`
    const current = store.get(key) ?? null
    const value = `v${i}`
    const input: KvInput = s.kind < 3
      ? { type: "get", key }
      : s.kind < 6
      ? { type: "put", key, value }
      : s.kind < 7
      ? { type: "delete", key }
      : { type: "cas", key, from: s.casCurrent ? current : `v${Math.max(0, i - 2)}`, to: value }
    const unknown = s.unknown === 0
    let output: KvOutput = { type: "done" }
    if (!unknown || s.applied) {
      // The operation takes effect at its linearization point 10·i + 5.
      if (input.type === "get") output = { type: "value", value: current }
      else if (input.type === "put") store.set(key, value)
      else if (input.type === "delete") store.delete(key)
      else {
        output = { type: "cas", ok: current === input.from }
        if (current === input.from) store.set(key, value)
      }
    }
    const point = 10 * i + 5
    return {
      id: i,
      clientId: i,
      input,
      output: unknown ? UNKNOWN : output,
      call: Math.max(0, point - s.before),
      return: unknown ? Infinity : point + s.after
    }
  })
  // Mutate one known output in some histories: a read of another value, or a flipped CAS.
  const target = history[mutateAt % history.length]!
  if (mutate < mutationPercent && target.output !== UNKNOWN) {
    const o = target.output
    const output: KvOutput = o.type === "value"
      ? { type: "value", value: mutateTo === null ? null : `v${mutateTo}` }
      : o.type === "cas"
      ? { type: "cas", ok: !o.ok }
      : o
    history[mutateAt % history.length] = { ...target, output }
  }
  return history
})

// ---- generator C: register histories for a nondeterministic (lossy) model ----
type RegOp = Operation<RegisterInput, RegisterOutput>
const lossy: Model<number, RegisterInput, RegisterOutput> = {
  ...registerModel(0),
  step: (state, input, output) =>
    input.type === "write"
      ? [state, input.value]
      : output === UNKNOWN || (output.type === "value" && output.value === state)
      ? [state]
      : []
}
const registerHistory = fc.array(
  fc.record({ write: fc.boolean(), value: fc.nat(2), call: fc.nat(12), length: fc.nat(6), unknown: fc.nat(5) }),
  { minLength: 1, maxLength: 7 }
).map((specs) =>
  specs.map((s, id): RegOp => {
    const unknown = s.unknown === 0
    return {
      id,
      clientId: id,
      input: s.write ? { type: "write", value: s.value } : { type: "read" },
      output: unknown ? UNKNOWN : s.write ? { type: "done" } : { type: "value", value: s.value },
      call: s.call,
      return: unknown ? Infinity : s.call + s.length
    }
  })
)

describe("linearizability checker vs brute force", () => {
  it("agrees on 4 000 arbitrary small KV histories (1-2 keys, ≤ 7 operations)", () => {
    const { counts, agree } = tally()
    fc.assert(fc.property(arbitraryKvHistory(6, 7), (ops) => agree(kvModel, ops, bruteForceKv(ops))), {
      numRuns: 4000,
      seed: 20240601
    })
    expect(counts.ok).toBeGreaterThan(400)
    expect(counts.violation).toBeGreaterThan(400)
  })

  it("agrees on 2 000 arbitrary KV histories where half the operations have unknown outcomes (≤ 8 operations)", () => {
    const { counts, agree } = tally()
    fc.assert(fc.property(arbitraryKvHistory(2, 8), (ops) => agree(kvModel, ops, bruteForceKv(ops))), {
      numRuns: 2000,
      seed: 4242
    })
    expect(counts.ok).toBeGreaterThan(200)
    expect(counts.violation).toBeGreaterThan(200)
  })

  it("agrees on 4 000 histories from sequential executions with random overlaps (some mutated)", () => {
    const { counts, agree } = tally()
    fc.assert(fc.property(executedKvHistory(40), (ops) => agree(kvModel, ops, bruteForceKv(ops))), {
      numRuns: 4000,
      seed: 77
    })
    expect(counts.ok).toBeGreaterThan(1000)
    expect(counts.violation).toBeGreaterThan(400)
  })

  it("finds every unmutated sequential execution linearizable (as does the brute force)", () => {
    fc.assert(
      fc.property(executedKvHistory(0), (ops) => checkLinearizability(kvModel, ops).result === "ok" && bruteForceKv(ops)),
      { numRuns: 1000, seed: 5 }
    )
  })

  it("agrees on 2 000 register histories under a nondeterministic model and with colliding hashes", () => {
    const { counts, agree } = tally()
    const colliding: Model<number, RegisterInput, RegisterOutput> = { ...lossy, hash: () => 7, equal: (a, b) => a === b }
    const strict = registerModel(0)
    const stepOf = (model: Model<number, RegisterInput, RegisterOutput>) => (s: number, op: RegOp) =>
      states(model.step(s, op.input, op.output))
    fc.assert(
      fc.property(registerHistory, (ops) => {
        const lossyOk = bruteForce(ops, 0, stepOf(lossy))
        const strictOk = bruteForce(ops, 0, stepOf(strict))
        return agree(lossy, ops, lossyOk) && agree(colliding, ops, lossyOk) && agree(strict, ops, strictOk)
      }),
      { numRuns: 2000, seed: 99 }
    )
    expect(counts.ok).toBeGreaterThan(600)
    expect(counts.violation).toBeGreaterThan(600)
  })
})
