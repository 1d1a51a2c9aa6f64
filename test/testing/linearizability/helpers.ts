/**
 * Small builders for hand-written histories: each call gives the next id; omit `ret` for an
 * operation whose outcome is unknown (it never returned).
 */
import type {
  KvInput,
  KvOutput,
  Operation,
  RegisterInput,
  RegisterOutput,
  StepResult
} from "../../../src/testing/linearizability/index.js"
import { UNKNOWN } from "../../../src/testing/linearizability/index.js"

export type KvOp = Operation<KvInput, KvOutput>
export type RegOp = Operation<RegisterInput, RegisterOutput>

export const kvBuilder = () => {
  let id = 0
  const mk = (client: number, input: KvInput, output: KvOutput, call: number, ret?: number): KvOp => ({
    id: id++,
    clientId: client,
    input,
    output: ret === undefined ? UNKNOWN : output,
    call,
    return: ret ?? Infinity
  })
  return {
    get: (client: number, key: string, value: string | null, call: number, ret?: number) =>
      mk(client, { type: "get", key }, { type: "value", value }, call, ret),
    put: (client: number, key: string, value: string, call: number, ret?: number) =>
      mk(client, { type: "put", key, value }, { type: "done" }, call, ret),
    del: (client: number, key: string, call: number, ret?: number) =>
      mk(client, { type: "delete", key }, { type: "done" }, call, ret),
    cas: (client: number, key: string, from: string | null, to: string, ok: boolean, call: number, ret?: number) =>
      mk(client, { type: "cas", key, from, to }, { type: "cas", ok }, call, ret)
  }
}

export const regBuilder = () => {
  let id = 0
  return {
    read: (client: number, value: number, call: number, ret?: number): RegOp => ({
      id: id++,
      clientId: client,
      input: { type: "read" },
      output: ret === undefined ? UNKNOWN : { type: "value", value },
      call,
      return: ret ?? Infinity
    }),
    write: (client: number, value: number, call: number, ret?: number): RegOp => ({
      id: id++,
      clientId: client,
      input: { type: "write", value },
      output: ret === undefined ? UNKNOWN : { type: "done" },
      call,
      return: ret ?? Infinity
    })
  }
}

export const isStateList = <S>(r: StepResult<S>): r is ReadonlyArray<S> => Array.isArray(r)
export const states = <S>(r: StepResult<S>): ReadonlyArray<S> => (isStateList(r) ? r : r.ok ? [r.next] : [])

/**
 * Is there an order of `ops`, each placed after every known operation that returned before its
 * call, that the sequential step function accepts? Unknown operations may be skipped.
 */
export const bruteForce = <S, I, O>(
  ops: ReadonlyArray<Operation<I, O>>,
  init: S,
  step: (state: S, op: Operation<I, O>) => ReadonlyArray<S>
): boolean => {
  const placed = ops.map(() => false)
  const knownTotal = ops.filter((op) => op.output !== UNKNOWN).length
  const go = (state: S, known: number): boolean => {
    if (known === knownTotal) return true
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      if (placed[i]) continue
      if (ops.some((p, j) => !placed[j] && j !== i && p.return < op.call)) continue
      for (const next of step(state, op)) {
        placed[i] = true
        const found = go(next, known + (op.output === UNKNOWN ? 0 : 1))
        placed[i] = false
        if (found) return true
      }
    }
    return false
  }
  return go(init, 0)
}
