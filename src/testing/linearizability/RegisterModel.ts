/**
 * A single read/write register of numbers: the smallest useful model, the one of Porcupine's and
 * Knossos's README examples, and the one the checker's self-tests use. Not partitioned.
 */
import { UNKNOWN } from "./History.js"
import { hashNumber } from "./Hash.js"
import type { Model } from "./Model.js"

/** A register request. */
export type RegisterInput =
  | { readonly type: "read" }
  | { readonly type: "write"; readonly value: number }

/** A register response: the value read, or the acknowledgement of a write. */
export type RegisterOutput =
  | { readonly type: "value"; readonly value: number }
  | { readonly type: "done" }

// One shared rejection: `next` is ignored when `ok` is false.
const REJECTED = { ok: false, next: 0 } as const

/**
 * A register starting at `initial` (default 0). A read is legal iff it returns the current value;
 * a write always is. Failure mode: an output of the wrong kind throws a TypeError (harness bug).
 */
export const registerModel = (initial = 0): Model<number, RegisterInput, RegisterOutput> => ({
  name: "register",
  init: () => initial,
  step(state, input, output) {
    if (input.type === "write") {
      if (output !== UNKNOWN && output.type !== "done") throw new TypeError(`registerModel: bad write output`)
      return { ok: true, next: input.value }
    }
    if (output === UNKNOWN) return { ok: true, next: state }
    if (output.type !== "value") throw new TypeError(`registerModel: bad read output`)
    return output.value === state ? { ok: true, next: state } : REJECTED
  },
  // Consistent with the `===` used by reads (-0 === 0 hash alike).
  hash: hashNumber,
  readOnly: (input) => input.type === "read",
  describeOperation: (input, output) => {
    const call = input.type === "read" ? "read()" : `write(${input.value})`
    if (output === UNKNOWN) return `${call} -> ? (unknown outcome)`
    return output.type === "value" ? `${call} -> ${output.value}` : `${call} -> ok`
  },
  describeState: (state) => String(state)
})
