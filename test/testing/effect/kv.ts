/**
 * A user's state machine, as a user of `kuilt/testing` would write it: a string key-value map whose
 * commands are JSON `{ k, v }` puts, with JSON snapshots.
 */
import type { StateMachine } from "../../../src/testing/effect/index.js"

export type Kv = ReadonlyMap<string, string>

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const put = (k: string, v: string): Uint8Array => encoder.encode(JSON.stringify({ k, v }))

export const kv: StateMachine<Kv> = {
  make: () => new Map(),
  apply: (state, command) => {
    const { k, v } = JSON.parse(decoder.decode(command)) as { k: string; v: string }
    return new Map(state).set(k, v)
  },
  snapshot: (state) => encoder.encode(JSON.stringify([...state])),
  restore: (bytes) => new Map(JSON.parse(decoder.decode(bytes)) as Array<[string, string]>)
}
