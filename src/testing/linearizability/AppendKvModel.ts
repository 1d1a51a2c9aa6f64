/**
 * A key-value store with get, put and append on string values, every key starting as `""`: the
 * model of Porcupine's kv test data (and of the MIT 6.5840 lab stores). Two forms:
 *
 * - {@link appendKvModel} partitions by key (linearizability is local, Herlihy & Wing), so each
 *   key is searched on its own — the fast way to check such histories;
 * - {@link appendKvMapModel} keeps every key in one state and does not partition, which makes the
 *   search far harder: it exists to exercise and benchmark the search itself.
 *
 * A value is kept as the chain of pieces that built it ({@link AppendKvValue}): an append adds a
 * link and continues the FNV-1a hash of the old value over the new piece (Hash.ts), so a step
 * never copies or rehashes a value that grows. A get compares length and hash first and builds
 * the string only when both match.
 */
import { hashString, mix32 } from "./Hash.js"
import type { Unknown } from "./History.js"
import { UNKNOWN } from "./History.js"
import type { Model } from "./Model.js"
import { partitionBy } from "./Model.js"

/** An append-KV request. */
export type AppendKvInput =
  | { readonly type: "get"; readonly key: string }
  | { readonly type: "put"; readonly key: string; readonly value: string }
  | { readonly type: "append"; readonly key: string; readonly value: string }

/** An append-KV response: the value a get read, or the acknowledgement of a put or append. */
export type AppendKvOutput =
  | { readonly type: "value"; readonly value: string }
  | { readonly type: "done" }

/** One key's value: the pieces that built it, its length and `hash === hashString(value)`. */
export class AppendKvValue {
  private flat: string | undefined

  private constructor(
    private readonly parent: AppendKvValue | undefined,
    private readonly piece: string,
    readonly length: number,
    readonly hash: number
  ) {}

  /** The value `s`. */
  static of(s: string): AppendKvValue {
    return new AppendKvValue(undefined, s, s.length, hashString(s))
  }

  /** This value followed by `piece` (shares this value's links). */
  append(piece: string): AppendKvValue {
    return new AppendKvValue(this, piece, this.length + piece.length, hashString(piece, this.hash))
  }

  /** The value as a string (built once, on first use). */
  get value(): string {
    if (this.flat === undefined) {
      const pieces: Array<string> = []
      let v: AppendKvValue | undefined = this
      while (v !== undefined && v.flat === undefined) pieces.push(v.piece), v = v.parent
      this.flat = (v === undefined ? "" : v.flat) + pieces.reverse().join("")
    }
    return this.flat
  }

  /** Equality of the strings: length and hash first, the strings only if both agree. */
  equals(other: AppendKvValue): boolean {
    return this === other || (this.length === other.length && this.hash === other.hash && this.value === other.value)
  }
}

const EMPTY = AppendKvValue.of("")
// Shared rejections: `next` is ignored when `ok` is false, and rejected reads are most steps.
const REJECTED = { ok: false, next: EMPTY } as const

/** The hash of each get's output value, computed once per output. */
const outputHashes = new WeakMap<object, number>()
const outputHash = (output: { readonly value: string }): number => {
  let h = outputHashes.get(output)
  if (h === undefined) outputHashes.set(output, h = hashString(output.value))
  return h
}

const mismatch = (model: string, input: AppendKvInput, output: AppendKvOutput): never => {
  throw new TypeError(`${model}: output ${JSON.stringify(output)} does not answer ${JSON.stringify(input)}`)
}

/** Whether a get's output is legal for `value`; throws on an output of the wrong kind. */
const readMatches = (
  model: string,
  input: AppendKvInput,
  output: AppendKvOutput | Unknown,
  value: AppendKvValue
): boolean => {
  if (output === UNKNOWN) return true
  if (output.type !== "value") return mismatch(model, input, output)
  return output.value.length === value.length && outputHash(output) === value.hash && output.value === value.value
}

/** The value after a put or append (checking the output kind). */
const written = (
  model: string,
  input: AppendKvInput & { readonly value: string },
  output: AppendKvOutput | Unknown,
  old: AppendKvValue
): AppendKvValue => {
  if (output !== UNKNOWN && output.type !== "done") mismatch(model, input, output)
  return input.type === "put" ? AppendKvValue.of(input.value) : old.append(input.value)
}

/**
 * Per-key append KV (partitioned by key; the state is one key's value). A get is legal iff it
 * returns the current value; put sets it; append concatenates. Unknown-outcome operations take
 * effect as if acknowledged. Failure mode: an output of the wrong kind for its input throws a
 * TypeError (a harness bug).
 */
export const appendKvModel: Model<AppendKvValue, AppendKvInput, AppendKvOutput> = {
  name: "append kv",
  init: () => EMPTY,
  step(state, input, output) {
    if (input.type === "get") return readMatches("appendKvModel", input, output, state) ? { ok: true, next: state } : REJECTED
    return { ok: true, next: written("appendKvModel", input, output, state) }
  },
  hash: (state) => state.hash,
  equal: (a, b) => a.equals(b),
  partition: partitionBy<AppendKvInput, AppendKvOutput>((input) => input.key),
  readOnly: (input) => input.type === "get",
  describeOperation: (input, output) => describeAppendKv(input, output),
  describeState: (state) => JSON.stringify(state.value)
}

/** Every key's value, by slot (see {@link appendKvMapModel}); absent keys read as `""`. */
export interface AppendKvMap {
  readonly values: ReadonlyArray<AppendKvValue>
  /** XOR over the keys of a hash of (slot, value hash): order-independent, updated per write. */
  readonly hash: number
}

const REJECTED_MAP = { ok: false, next: { values: [], hash: 0 } } as const

const slotHash = (slot: number, value: AppendKvValue) => mix32(value.hash + Math.imul(slot + 1, 0x9e3779b1))

/**
 * Append KV with every key in one state and no partitioning (Porcupine's `kvNoPartitionModel`).
 * Each call makes a fresh model: it numbers keys (slots) as it meets them, so that a write copies
 * a small array instead of a map. Same step rules as {@link appendKvModel}.
 */
export const appendKvMapModel = (): Model<AppendKvMap, AppendKvInput, AppendKvOutput> => {
  const slots = new Map<string, number>()
  const slotOf = (key: string): number => {
    let s = slots.get(key)
    if (s === undefined) slots.set(key, s = slots.size)
    return s
  }
  const valueAt = (state: AppendKvMap, slot: number): AppendKvValue => state.values[slot] ?? EMPTY
  return {
    name: "append kv (one state, unpartitioned)",
    init: () => ({ values: [], hash: 0 }),
    step(state, input, output) {
      const slot = slotOf(input.key)
      const old = valueAt(state, slot)
      if (input.type === "get") {
        return readMatches("appendKvMapModel", input, output, old) ? { ok: true, next: state } : REJECTED_MAP
      }
      const value = written("appendKvMapModel", input, output, old)
      const values = state.values.slice()
      while (values.length < slot) values.push(EMPTY)
      values[slot] = value
      return { ok: true, next: { values, hash: state.hash ^ slotHash(slot, old) ^ slotHash(slot, value) } }
    },
    hash: (state) => state.hash,
    equal: (a, b) => {
      const n = Math.max(a.values.length, b.values.length)
      for (let i = 0; i < n; i++) if (!valueAt(a, i).equals(valueAt(b, i))) return false
      return true
    },
    readOnly: (input) => input.type === "get",
    describeOperation: (input, output) => describeAppendKv(input, output),
    describeState: (state) =>
      `{${Array.from(slots, ([key, slot]) => `${JSON.stringify(key)}: ${JSON.stringify(valueAt(state, slot).value)}`).join(", ")}}`
  }
}

/** `get("k") -> "v"`, `put("k", "v")`, `append("k", "v")`, `… -> ?` (unknown outcome). */
export const describeAppendKv = (input: AppendKvInput, output: AppendKvOutput | Unknown): string => {
  const k = JSON.stringify(input.key)
  const call = input.type === "get" ? `get(${k})` : `${input.type}(${k}, ${JSON.stringify(input.value)})`
  if (output === UNKNOWN) return `${call} -> ? (unknown outcome)`
  return output.type === "value" ? `${call} -> ${JSON.stringify(output.value)}` : `${call} -> ok`
}
