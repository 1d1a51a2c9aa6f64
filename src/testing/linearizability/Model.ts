/**
 * The sequential specification a history is checked against (Porcupine-style model), plus helpers
 * shared by the checker and the brute-force reference in the tests.
 */
import type { Operation, Unknown } from "./History.js"

/**
 * What one operation does in one state:
 * - `{ ok, next }` for a deterministic model (`ok: false` = this output is impossible here);
 * - an array of possible next states for a nondeterministic one (`[]` = impossible here).
 *   The checker then tracks the set of reachable states (etcd's powerset construction, reference
 *   §2.3), so nondeterminism never multiplies the search.
 */
export type StepResult<S> = { readonly ok: boolean; readonly next: S } | ReadonlyArray<S>

/** A group of operations checked on its own (linearizability is local: Herlihy & Wing). */
export interface Partition<I, O> {
  /** Shown in explanations, e.g. the KV key. */
  readonly key: string
  readonly operations: ReadonlyArray<Operation<I, O>>
}

/**
 * A sequential specification. Implement this to check your own state machine.
 *
 * Contract (violating it makes verdicts wrong, not just slow):
 * - `step` is pure and must not mutate `state`.
 * - `step` with `output === UNKNOWN` means "the operation took effect here, its result unseen":
 *   return every state it could lead to, or none where it could not take effect (a precondition).
 *   Do not model "it was lost" as an extra next state: the checker already lets every
 *   unknown-outcome operation never take effect.
 * - `hash` is a canonical serialisation: equal states give the same string. If two different
 *   states can give the same string, supply `equal`; otherwise the memo would merge them and the
 *   checker could report a violation that is not one.
 * - `partition` (optional) splits the history into groups of operations that commute with every
 *   operation of every other group (e.g. per key). Each group is checked from `init()`, so the
 *   state must only describe one group. Wrong partitioning hides or invents violations.
 */
export interface Model<S, I, O> {
  /** Used in explanations. */
  readonly name?: string
  init(): S
  step(state: S, input: I, output: O | Unknown): StepResult<S>
  /** Canonical key of a state, for the memo of (linearized set, state) pairs. */
  hash(state: S): string
  /** Exact equality, only needed when `hash` may collide. */
  equal?(a: S, b: S): boolean
  partition?(operations: ReadonlyArray<Operation<I, O>>): ReadonlyArray<Partition<I, O>>
  /**
   * Inputs that can never change the state (reads). Their unknown-outcome operations are dropped
   * before the search: they are unconstrained and invisible (reference §2.5, rule 6).
   */
  readOnly?(input: I): boolean
  /** One-line description of an operation, e.g. `put("x", "1")` or `get("x") -> "1"`. */
  describeOperation?(input: I, output: O | Unknown): string
  /** One-line description of a state, for explanations. */
  describeState?(state: S): string
}

/** The next states of a step result as an array (deterministic results become 0 or 1 states). */
export const nextStates = <S>(result: StepResult<S>): ReadonlyArray<S> =>
  isStateArray(result) ? result : result.ok ? [result.next] : []

const isStateArray = <S>(result: StepResult<S>): result is ReadonlyArray<S> => Array.isArray(result)

/**
 * Applies one operation to a set of possible states: the union of the next states, deduplicated by
 * `hash` (and `equal` when given). Empty = the operation cannot be placed here.
 */
export const stepAll = <S, I, O>(
  model: Model<S, I, O>,
  states: ReadonlyArray<S>,
  input: I,
  output: O | Unknown
): Array<S> => {
  if (states.length === 1) {
    const r = model.step(states[0]!, input, output)
    if (!isStateArray(r)) return r.ok ? [r.next] : []
    if (r.length <= 1) return r.slice()
  }
  const out: Array<S> = []
  const hashes: Array<string> = []
  for (const s of states) {
    for (const n of nextStates(model.step(s, input, output))) {
      const h = model.hash(n)
      let dup = false
      for (let i = 0; i < out.length && !dup; i++) {
        dup = hashes[i] === h && (model.equal === undefined || model.equal(out[i]!, n))
      }
      if (!dup) {
        out.push(n)
        hashes.push(h)
      }
    }
  }
  return out
}

/**
 * Canonical key of a set of states. Injective given injective `hash`: a count prefix separates the
 * singleton form from the JSON form, and JSON of sorted strings is unambiguous.
 */
export const stateSetKey = <S, I, O>(model: Model<S, I, O>, states: ReadonlyArray<S>): string => {
  if (states.length === 1) return "1#" + model.hash(states[0]!)
  const hashes = states.map((s) => model.hash(s)).sort()
  return `${hashes.length}#${JSON.stringify(hashes)}`
}

/** Set equality of two deduplicated state sets under `equal` (only used when `equal` is given). */
export const sameStateSet = <S>(equal: (a: S, b: S) => boolean, a: ReadonlyArray<S>, b: ReadonlyArray<S>): boolean =>
  a.length === b.length && a.every((x) => b.some((y) => equal(x, y)))

/** The model's description of an operation, or a JSON fallback. */
export const describeOperation = <S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string => {
  if (model.describeOperation !== undefined) return model.describeOperation(op.input, op.output)
  const out = typeof op.output === "symbol" ? "?" : safeJson(op.output)
  return `${safeJson(op.input)} -> ${out}`
}

/** The model's description of a state, or a JSON fallback. */
export const describeState = <S, I, O>(model: Model<S, I, O>, state: S): string =>
  model.describeState !== undefined ? model.describeState(state) : safeJson(state)

const safeJson = (x: unknown): string => {
  try {
    return JSON.stringify(x) ?? String(x)
  } catch {
    return String(x)
  }
}

/**
 * A `partition` implementation grouping operations by a key of their input, in order of first
 * appearance. Use it when operations on different keys commute (independent objects).
 */
export const partitionBy = <I, O>(keyOf: (input: I) => string) =>
(operations: ReadonlyArray<Operation<I, O>>): Array<Partition<I, O>> => {
  const groups = new Map<string, Array<Operation<I, O>>>()
  for (const op of operations) {
    const k = keyOf(op.input)
    const g = groups.get(k)
    if (g === undefined) groups.set(k, [op])
    else g.push(op)
  }
  return Array.from(groups, ([key, ops]) => ({ key, operations: ops }))
}
