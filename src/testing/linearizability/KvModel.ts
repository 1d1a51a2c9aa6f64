/**
 * A key-value store model (get / put / delete / compare-and-set on string keys), partitioned per
 * key: operations on different keys commute, so each key's sub-history is checked on its own
 * (Horn & Kroening's P-compositionality; it is what makes 20 000-operation histories cheap).
 *
 * Generators should write unique values: then every read names the one write it observed and
 * anomalies are unambiguous (reference §2.5).
 */
import type { Unknown } from "./History.js"
import { UNKNOWN } from "./History.js"
import type { Model } from "./Model.js"
import { partitionBy } from "./Model.js"
import { hashString } from "./Hash.js"

const ABSENT_HASH = 0x5bd1e995

/** A KV request. `null` stands for "absent" (never written, or deleted). */
export type KvInput =
  | { readonly type: "get"; readonly key: string }
  | { readonly type: "put"; readonly key: string; readonly value: string }
  | { readonly type: "delete"; readonly key: string }
  | { readonly type: "cas"; readonly key: string; readonly from: string | null; readonly to: string }

/**
 * A KV response: `value` answers a get, `done` a put or delete, `cas` a compare-and-set (a CAS whose
 * compare failed is a completed `{ ok: false }`, not a failed request).
 */
export type KvOutput =
  | { readonly type: "value"; readonly value: string | null }
  | { readonly type: "done" }
  | { readonly type: "cas"; readonly ok: boolean }

/** The value of the one key a partition covers; `null` = absent. */
export type KvState = string | null

const ok = (next: KvState) => ({ ok: true, next })
// One shared rejection: `next` is ignored when `ok` is false, and rejections are most steps.
const REJECTED = { ok: false, next: null } as const
const no = (_state: KvState) => REJECTED

const mismatch = (input: KvInput, output: KvOutput): never => {
  throw new TypeError(`kvModel: output ${JSON.stringify(output)} does not answer ${JSON.stringify(input)}`)
}

const quote = (v: string | null): string => (v === null ? "absent" : JSON.stringify(v))

/**
 * The KV model. Step rules (per key, state = current value):
 *
 * | input | output | legal when | next |
 * |---|---|---|---|
 * | get | value v | v = state | state |
 * | put v | done / unknown | always | v |
 * | delete | done / unknown | always | absent |
 * | cas a→b | ok | a = state | b |
 * | cas a→b | not ok | a ≠ state | state |
 * | cas a→b | unknown | always | a = state ? b : state |
 *
 * Failure modes: an output of the wrong kind for its input (e.g. `done` for a get) throws a
 * TypeError — that is a harness bug, not a violation. Without the per-key partitioning (which the
 * checker always applies) the single-value state would be wrong; use the model only through the
 * checker or apply `partition` yourself.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: "kv",
  init: () => null,
  step(state, input, output) {
    if (output === UNKNOWN) {
      switch (input.type) {
        case "get":
          return ok(state)
        case "put":
          return ok(input.value)
        case "delete":
          return ok(null)
        case "cas":
          return ok(state === input.from ? input.to : state)
      }
    }
    switch (input.type) {
      case "get":
        return output.type === "value" ? (output.value === state ? ok(state) : no(state)) : mismatch(input, output)
      case "put":
        return output.type === "done" ? ok(input.value) : mismatch(input, output)
      case "delete":
        return output.type === "done" ? ok(null) : mismatch(input, output)
      case "cas":
        if (output.type !== "cas") return mismatch(input, output)
        if (output.ok) return state === input.from ? ok(input.to) : no(state)
        return state !== input.from ? ok(state) : no(state)
    }
  },
  // Absent hashes apart from every string value (collisions would only cost time).
  hash: (state) => (state === null ? ABSENT_HASH : hashString(state)),
  partition: partitionBy<KvInput, KvOutput>((input) => input.key),
  readOnly: (input) => input.type === "get",
  describeOperation: (input, output) => describeKv(input, output),
  describeState: quote
}

/** `put("x", "1")`, `get("x") -> "1"`, `cas("x", absent -> "2") -> failed`, `… -> ?` (unknown). */
export const describeKv = (input: KvInput, output: KvOutput | Unknown): string => {
  const k = JSON.stringify(input.key)
  const call = input.type === "get"
    ? `get(${k})`
    : input.type === "put"
    ? `put(${k}, ${JSON.stringify(input.value)})`
    : input.type === "delete"
    ? `delete(${k})`
    : `cas(${k}, ${quote(input.from)} -> ${JSON.stringify(input.to)})`
  if (output === UNKNOWN) return `${call} -> ? (unknown outcome)`
  switch (output.type) {
    case "value":
      return `${call} -> ${quote(output.value)}`
    case "done":
      return `${call} -> ok`
    case "cas":
      return `${call} -> ${output.ok ? "ok" : "failed"}`
  }
}
