/**
 * The register of Jepsen's etcd test (the model of Porcupine's etcd test data): one integer
 * register, initially absent, with read, write and compare-and-set. Not partitioned.
 */
import { hashNumber } from "./Hash.js"
import type { Unknown } from "./History.js"
import { UNKNOWN } from "./History.js"
import type { Model } from "./Model.js"

/** An etcd register request. */
export type EtcdInput =
  | { readonly type: "read" }
  | { readonly type: "write"; readonly value: number }
  | { readonly type: "cas"; readonly from: number; readonly to: number }

/**
 * An etcd register response: the value read (`null` = absent), a write's acknowledgement, or
 * whether a compare-and-set swapped (a failed compare is a completed `{ ok: false }`).
 */
export type EtcdOutput =
  | { readonly type: "value"; readonly value: number | null }
  | { readonly type: "done" }
  | { readonly type: "cas"; readonly ok: boolean }

/** The register's value; `null` = never written. */
export type EtcdState = number | null

const ABSENT_HASH = 0x27d4eb2f
const ok = (next: EtcdState) => ({ ok: true, next })
// One shared rejection: `next` is ignored when `ok` is false, and rejections are most steps.
const REJECTED = { ok: false, next: null } as const
const no = (_state: EtcdState) => REJECTED

const mismatch = (input: EtcdInput, output: EtcdOutput): never => {
  throw new TypeError(`etcdRegisterModel: output ${JSON.stringify(output)} does not answer ${JSON.stringify(input)}`)
}

/**
 * The register model. Step rules (state = current value, `null` = absent):
 *
 * | input | output | legal when | next |
 * |---|---|---|---|
 * | read | value v | v = state | state |
 * | write v | done / unknown | always | v |
 * | cas a→b | ok | a = state | b |
 * | cas a→b | not ok | a ≠ state | state |
 * | cas a→b | unknown | always | a = state ? b : state |
 *
 * Failure mode: an output of the wrong kind for its input throws a TypeError (a harness bug).
 */
export const etcdRegisterModel: Model<EtcdState, EtcdInput, EtcdOutput> = {
  name: "etcd register",
  init: () => null,
  step(state, input, output) {
    switch (input.type) {
      case "read":
        if (output === UNKNOWN) return ok(state)
        return output.type === "value" ? (output.value === state ? ok(state) : no(state)) : mismatch(input, output)
      case "write":
        return output === UNKNOWN || output.type === "done" ? ok(input.value) : mismatch(input, output)
      case "cas": {
        const next = state === input.from ? input.to : state
        if (output === UNKNOWN) return ok(next)
        if (output.type !== "cas") return mismatch(input, output)
        return output.ok === (state === input.from) ? ok(next) : no(state)
      }
    }
  },
  hash: (state) => (state === null ? ABSENT_HASH : hashNumber(state)),
  readOnly: (input) => input.type === "read",
  describeOperation: (input, output) => describeEtcd(input, output),
  describeState: (state) => (state === null ? "absent" : String(state))
}

/** `read() -> 3`, `write(4)`, `cas(1, 2) -> failed`, `… -> ?` (unknown outcome). */
export const describeEtcd = (input: EtcdInput, output: EtcdOutput | Unknown): string => {
  const call = input.type === "read"
    ? "read()"
    : input.type === "write"
    ? `write(${input.value})`
    : `cas(${input.from}, ${input.to})`
  if (output === UNKNOWN) return `${call} -> ? (unknown outcome)`
  switch (output.type) {
    case "value":
      return `${call} -> ${output.value === null ? "absent" : output.value}`
    case "done":
      return `${call} -> ok`
    case "cas":
      return `${call} -> ${output.ok ? "ok" : "failed"}`
  }
}
