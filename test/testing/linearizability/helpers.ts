/**
 * Small builders for hand-written histories: each call gives the next id; omit `ret` for an
 * operation whose outcome is unknown (it never returned).
 */
import type { KvInput, KvOutput, Operation, RegisterInput, RegisterOutput } from "../../../src/testing/linearizability/index.js"
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
