/**
 * The parsers of Porcupine's test-data formats (Jepsen etcd logs, kv histories) and the models
 * they feed (etcd register with compare-and-set; append KV per key and as one state), including a
 * differential test of the models against the brute-force checker.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type {
  AppendKvInput,
  AppendKvOutput,
  EtcdInput,
  EtcdOutput,
  Operation
} from "../../../src/testing/linearizability/index.js"
import {
  appendKvMapModel,
  appendKvModel,
  AppendKvValue,
  checkLinearizability,
  etcdRegisterModel,
  HistoryError,
  parseJepsenEtcdLog,
  parseKvLog,
  UNKNOWN
} from "../../../src/testing/linearizability/index.js"
import { plainKey } from "../../../src/testing/linearizability/Twins.js"
import { bruteForce, states } from "./helpers.js"

const jepsen = (lines: ReadonlyArray<string>) => lines.map((l) => `INFO  jepsen.util - ${l.replace(/ /g, "\t")}`).join("\n")

describe("Jepsen etcd logs", () => {
  const log = [
    "0 :invoke :write 1",
    "0 :ok :write 1",
    "1 :invoke :read nil",
    "1 :ok :read 1",
    "2 :invoke :cas [1 2]",
    "2 :ok :cas [1 2]",
    "3 :invoke :cas [1 3]",
    "3 :fail :cas [1 3]",
    "4 :invoke :write 4",
    "4 :info :write :timed-out",
    "1 :invoke :read nil",
    "1 :fail :read :timed-out",
    "0 :invoke :read nil",
    "0 :ok :read 4"
  ]

  it("parse into operations: line order is time, timeouts and :info give unknown outcomes", () => {
    const ops = parseJepsenEtcdLog(jepsen(log) + "\nINFO  jepsen.core - something else\n")
    expect(ops.map((op) => [op.input, op.output, op.call, op.return])).toEqual([
      [{ type: "write", value: 1 }, { type: "done" }, 0, 1],
      [{ type: "read" }, { type: "value", value: 1 }, 2, 3],
      [{ type: "cas", from: 1, to: 2 }, { type: "cas", ok: true }, 4, 5],
      [{ type: "cas", from: 1, to: 3 }, { type: "cas", ok: false }, 6, 7],
      [{ type: "write", value: 4 }, UNKNOWN, 8, Infinity],
      [{ type: "read" }, UNKNOWN, 10, Infinity],
      [{ type: "read" }, { type: "value", value: 4 }, 12, 13]
    ])
  })

  it("a timed-out write may take effect later; a read of a value never written is a violation", () => {
    expect(checkLinearizability(etcdRegisterModel, parseJepsenEtcdLog(jepsen(log))).result).toBe("ok")
    const bad = [...log.slice(0, -1), "0 :ok :read 3"] // cas [1 3] failed: 3 was never written
    const result = checkLinearizability(etcdRegisterModel, parseJepsenEtcdLog(jepsen(bad)))
    expect(result.result === "violation" && result.explanation).toContain("read() -> 3")
  })

  it("a read of nil after a write, and a failed CAS whose compare held, are violations", () => {
    const stale = jepsen(["0 :invoke :write 1", "0 :ok :write 1", "1 :invoke :read nil", "1 :ok :read nil"])
    expect(checkLinearizability(etcdRegisterModel, parseJepsenEtcdLog(stale)).result).toBe("violation")
    const cas = jepsen(["0 :invoke :write 1", "0 :ok :write 1", "1 :invoke :cas [1 5]", "1 :fail :cas [1 5]"])
    expect(checkLinearizability(etcdRegisterModel, parseJepsenEtcdLog(cas)).result).toBe("violation")
    const empty = parseJepsenEtcdLog("")
    expect(empty).toEqual([])
    expect(checkLinearizability(etcdRegisterModel, empty).result).toBe("ok")
  })

  it("reject malformed logs with HistoryError", () => {
    expect(() => parseJepsenEtcdLog(jepsen(["0 :ok :write 1"]))).toThrow(HistoryError)
    expect(() => parseJepsenEtcdLog(jepsen(["0 :invoke :write 1", "0 :invoke :write 2"]))).toThrow(HistoryError)
  })
})

describe("kv histories", () => {
  const line = (p: number, type: string, f: string, key: string, value: string | null) =>
    `{:process ${p}, :type :${type}, :f :${f}, :key "${key}", :value ${value === null ? "nil" : `"${value}"`}}`
  const text = [
    line(0, "invoke", "put", "k", "a"),
    line(1, "invoke", "append", "k", "b"),
    line(0, "ok", "put", "k", "a"),
    line(1, "ok", "append", "k", "b"),
    line(2, "invoke", "get", "k", null),
    line(2, "ok", "get", "k", "ab"),
    line(3, "invoke", "get", "other", null)
  ].join("\r\n")

  it("parse into operations; an operation open at the end has an unknown outcome", () => {
    const ops = parseKvLog(text)
    expect(ops.map((op) => [op.input, op.output, op.call, op.return])).toEqual([
      [{ type: "put", key: "k", value: "a" }, { type: "done" }, 0, 2],
      [{ type: "append", key: "k", value: "b" }, { type: "done" }, 1, 3],
      [{ type: "get", key: "k" }, { type: "value", value: "ab" }, 4, 5],
      [{ type: "get", key: "other" }, UNKNOWN, 6, Infinity]
    ])
  })

  it("check the same with the per-key and the one-state model", () => {
    const ops = parseKvLog(text)
    expect(checkLinearizability(appendKvModel, ops).result).toBe("ok")
    expect(checkLinearizability(appendKvMapModel(), ops).result).toBe("ok")
    const bad = parseKvLog(text.replace(`:value "ab"}`, `:value "ba"}`))
    const perKey = checkLinearizability(appendKvModel, bad)
    expect(perKey.result === "violation" && perKey.explanation).toContain(`get("k") -> "ba"`)
    expect(checkLinearizability(appendKvMapModel(), bad).result).toBe("violation")
  })

  it("values built by appends compare and hash like the strings they spell", () => {
    const built = AppendKvValue.of("x").append("yz").append("")
    const direct = AppendKvValue.of("xyz")
    expect(built.value).toBe("xyz")
    expect(built.equals(direct)).toBe(true)
    expect(appendKvModel.hash(built)).toBe(appendKvModel.hash(direct))
    expect(built.equals(AppendKvValue.of("xzy"))).toBe(false)
  })
})

// ---- differential: executions with random overlaps (some mutated) vs the brute force ----
type KvOp = Operation<AppendKvInput, AppendKvOutput>
type EtcdOp = Operation<EtcdInput, EtcdOutput>

const overlapped = <T>(specs: ReadonlyArray<T & { before: number; after: number; unknown: number }>) => (i: number) => {
  const s = specs[i]!
  const point = 10 * i + 5
  return { call: Math.max(0, point - s.before), ret: s.unknown === 0 ? Infinity : point + s.after, unknown: s.unknown === 0 }
}

const kvExecution = fc.record({
  ops: fc.array(
    fc.record({ kind: fc.nat(5), key: fc.nat(1), before: fc.nat(30), after: fc.nat(30), unknown: fc.nat(9), applied: fc.boolean() }),
    { minLength: 1, maxLength: 7 }
  ),
  mutate: fc.nat(99),
  at: fc.nat(6)
}).map(({ at, mutate, ops }) => {
  const store = new Map<string, string>()
  const time = overlapped(ops)
  const history = ops.map((s, i): KvOp => {
    const key = `k${s.key}`
    const t = time(i)
    const input: AppendKvInput = s.kind < 2
      ? { type: "get", key }
      : s.kind < 3
      ? { type: "put", key, value: `p${i}` }
      : { type: "append", key, value: `.${i}` }
    let output: AppendKvOutput = { type: "done" }
    if (!t.unknown || s.applied) {
      if (input.type === "get") output = { type: "value", value: store.get(key) ?? "" }
      else store.set(key, input.type === "put" ? input.value : (store.get(key) ?? "") + input.value)
    }
    return { id: i, clientId: i, input, output: t.unknown ? UNKNOWN : output, call: t.call, return: t.ret }
  })
  const target = history[at % history.length]!
  if (mutate < 40 && target.output !== UNKNOWN && target.output.type === "value") {
    history[at % history.length] = { ...target, output: { type: "value", value: `${target.output.value}?` } }
  }
  return history
})

const etcdExecution = fc.record({
  ops: fc.array(
    fc.record({ kind: fc.nat(5), a: fc.nat(2), b: fc.nat(2), before: fc.nat(30), after: fc.nat(30), unknown: fc.nat(5), applied: fc.boolean() }),
    { minLength: 1, maxLength: 7 }
  ),
  mutate: fc.nat(99),
  at: fc.nat(6)
}).map(({ at, mutate, ops }) => {
  let register: number | null = null
  const time = overlapped(ops)
  const history = ops.map((s, i): EtcdOp => {
    const t = time(i)
    const input: EtcdInput = s.kind < 2
      ? { type: "read" }
      : s.kind < 4
      ? { type: "write", value: s.a }
      : { type: "cas", from: s.a, to: s.b }
    let output: EtcdOutput = input.type === "cas" ? { type: "cas", ok: false } : { type: "done" }
    if (!t.unknown || s.applied) {
      if (input.type === "read") output = { type: "value", value: register }
      else if (input.type === "write") register = input.value
      else {
        output = { type: "cas", ok: register === input.from }
        if (register === input.from) register = input.to
      }
    }
    return { id: i, clientId: i, input, output: t.unknown ? UNKNOWN : output, call: t.call, return: t.ret }
  })
  const target = history[at % history.length]!
  if (mutate < 40 && target.output !== UNKNOWN) {
    const o = target.output
    const output: EtcdOutput = o.type === "value"
      ? { type: "value", value: o.value === null ? 7 : null }
      : o.type === "cas"
      ? { type: "cas", ok: !o.ok }
      : o
    history[at % history.length] = { ...target, output }
  }
  return history
})

const bruteForceKv = (ops: ReadonlyArray<KvOp>): boolean =>
  bruteForce<ReadonlyMap<string, AppendKvValue>, AppendKvInput, AppendKvOutput>(ops, new Map(), (map, op) =>
    states(appendKvModel.step(map.get(op.input.key) ?? AppendKvValue.of(""), op.input, op.output)).map((v) =>
      new Map(map).set(op.input.key, v)
    ))

describe("reference models vs brute force", () => {
  it("append KV, per key and as one state, agree with the brute force on 3 000 executions", () => {
    const counts = { ok: 0, violation: 0 }
    fc.assert(
      fc.property(kvExecution, (ops) => {
        const expected = bruteForceKv(ops)
        const perKey = checkLinearizability(appendKvModel, ops).result
        const oneState = checkLinearizability(appendKvMapModel(), ops).result
        if (perKey !== "unknown") counts[perKey]++
        return perKey === oneState && perKey === (expected ? "ok" : "violation")
      }),
      { numRuns: 3000, seed: 31337 }
    )
    expect(counts.ok).toBeGreaterThan(800)
    expect(counts.violation).toBeGreaterThan(300)
  })

  it("the etcd register agrees with the brute force on 3 000 executions", () => {
    const counts = { ok: 0, violation: 0 }
    fc.assert(
      fc.property(etcdExecution, (ops) => {
        const expected = bruteForce<number | null, EtcdInput, EtcdOutput>(
          ops,
          null,
          (s, op) => states(etcdRegisterModel.step(s, op.input, op.output))
        )
        const result = checkLinearizability(etcdRegisterModel, ops).result
        if (result !== "unknown") counts[result]++
        return result === (expected ? "ok" : "violation")
      }),
      { numRuns: 3000, seed: 2718 }
    )
    expect(counts.ok).toBeGreaterThan(800)
    expect(counts.violation).toBeGreaterThan(300)
  })
})

describe("twins (unknown-outcome operations with equal inputs)", () => {
  it("are recognised on plain data only", () => {
    expect(plainKey({ b: 1, a: [null, "x"] })).toBe(plainKey({ a: [null, "x"], b: 1 }))
    expect(plainKey({ a: 1 })).not.toBe(plainKey({ a: "1" }))
    expect(plainKey(0)).not.toBe(plainKey(-0))
    expect(plainKey({ a: undefined })).not.toBe(plainKey({}))
    for (const rich of [new Map(), new Date(0), { f: () => 1 }, 1n, Symbol("s"), { [Symbol("s")]: 1 }]) {
      expect(plainKey(rich)).toBeUndefined()
    }
  })

  it("placed in call order still find a linearization that needs both", () => {
    // A read of 7, a write of 1, a read of 7 again: it takes two timed-out writes of 7, one on
    // each side of the write of 1; with only the first, the history is not linearizable.
    const ops: Array<EtcdOp> = [
      { id: 0, clientId: 0, input: { type: "write", value: 7 }, output: UNKNOWN, call: 0, return: Infinity },
      { id: 1, clientId: 1, input: { type: "read" }, output: { type: "value", value: 7 }, call: 1, return: 2 },
      { id: 2, clientId: 2, input: { type: "write", value: 1 }, output: { type: "done" }, call: 3, return: 4 },
      { id: 3, clientId: 3, input: { type: "write", value: 7 }, output: UNKNOWN, call: 5, return: Infinity },
      { id: 4, clientId: 4, input: { type: "read" }, output: { type: "value", value: 7 }, call: 6, return: 7 }
    ]
    expect(checkLinearizability(etcdRegisterModel, ops).result).toBe("ok")
    expect(checkLinearizability(etcdRegisterModel, ops.filter((op) => op.id !== 3)).result).toBe("violation")
  })
})
