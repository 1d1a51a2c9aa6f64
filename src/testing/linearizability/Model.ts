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
 * - `equal` (default `===`) must only say true of states that behave the same under every future
 *   operation: the memo skips a configuration whose state is `equal` to one already explored.
 *   The default suits primitive states (numbers, strings, null); object states need their own
 *   `equal`, or the memo only recognises the very same object (correct, but slower).
 * - `hash` returns a 32-bit integer, the same for `equal` states. Collisions are harmless (every
 *   memo match is confirmed with `equal`); a poor hash only costs time. See `hashString` and
 *   `hashNumber`. The checker does not call `hash` when `step` returns the very same state.
 * - `partition` (optional) splits the history into groups of operations that commute with every
 *   operation of every other group (e.g. per key). Each group is checked from `init()`, so the
 *   state must only describe one group. Wrong partitioning hides or invents violations.
 */
export interface Model<S, I, O> {
  /** Used in explanations. */
  readonly name?: string
  init(): S
  step(state: S, input: I, output: O | Unknown): StepResult<S>
  /** 32-bit hash of a state, consistent with `equal` (for the memo of (linearized set, state) pairs). */
  hash(state: S): number
  /** Whether two states are interchangeable (default `===`). */
  equal?(a: S, b: S): boolean
  partition?(operations: ReadonlyArray<Operation<I, O>>): ReadonlyArray<Partition<I, O>>
  /**
   * Inputs that can never change the state (reads): for every state, `step` either rejects the
   * operation or returns that very state (or an `equal` one). Their unknown-outcome operations are
   * dropped before the search (they are unconstrained and invisible), and the search places a
   * legal read as soon as it reaches it (Search.ts). Claiming an input that can change the state
   * makes verdicts wrong.
   */
  readOnly?(input: I): boolean
  /** One-line description of an operation, e.g. `put("x", "1")` or `get("x") -> "1"`. */
  describeOperation?(input: I, output: O | Unknown): string
  /** One-line description of a state, for explanations. */
  describeState?(state: S): string
}

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
