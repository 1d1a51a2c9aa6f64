/**
 * Turns a failed search into text a person can act on, in the spirit of Porcupine's partial
 * linearizations: the longest prefix that does linearize, the state it leaves, the operation whose
 * deadline (its return) could not be met, and why each operation that could come next fails.
 */
import type { Operation } from "./History.js"
import { UNKNOWN } from "./History.js"
import type { Model } from "./Model.js"
import { describeOperation, describeState } from "./Model.js"
import type { Current, Stepped } from "./StateSet.js"
import { equalityOf, hashCurrent, StateSet, stepCurrent } from "./StateSet.js"

/** A violation, explained. */
export interface Explanation<I, O> {
  readonly text: string
  /** The operation with the earliest return that the longest prefix could not absorb. */
  readonly failingOperation: Operation<I, O>
  /** Operations that could come right after the prefix (real-time allows it); none leads anywhere. */
  readonly unplaced: ReadonlyArray<Operation<I, O>>
}

const MAX_PREFIX_LINES = 25
const MAX_CANDIDATE_LINES = 25

/** `#12 client 3: put("x", "a") -> ok  [call 40, return 45]` */
export const formatOperation = <S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string => {
  const ret = op.return === Infinity ? "never returned" : `return ${op.return}`
  return `#${op.id} client ${String(op.clientId)}: ${describeOperation(model, op)}  [call ${op.call}, ${ret}]`
}

const formatStates = <S, I, O>(model: Model<S, I, O>, states: ReadonlyArray<S>): string =>
  states.length === 1 ? describeState(model, states[0]!) : `one of {${states.map((s) => describeState(model, s)).join(", ")}}`

/**
 * Explains why `operations` (one partition, as searched) do not linearize, given the longest
 * prefix the search found and the states after it.
 */
export const explainViolation = <S, I, O>(
  model: Model<S, I, O>,
  partitionKey: string,
  operations: ReadonlyArray<Operation<I, O>>,
  longestPrefix: ReadonlyArray<Operation<I, O>>,
  statesAfterPrefix: ReadonlyArray<S>
): Explanation<I, O> => {
  const placed = new Set(longestPrefix.map((op) => op.id))
  const rest = operations.filter((op) => !placed.has(op.id))
  let failing: Operation<I, O> | undefined
  for (const op of rest) {
    if (op.output === UNKNOWN) continue
    if (failing === undefined || op.return < failing.return || (op.return === failing.return && op.call < failing.call)) {
      failing = op
    }
  }
  if (failing === undefined) throw new Error("explainViolation: every known operation is in the prefix (not a violation)")
  const deadline = failing.return
  // Calls at the deadline itself count: calls sort before returns at equal times (concurrent).
  const unplaced = rest.filter((op) => op.call <= deadline).sort((a, b) => a.call - b.call || a.id - b.id)

  const lines: Array<string> = []
  const name = model.name === undefined ? "" : ` (model ${model.name})`
  lines.push(
    `Not linearizable${name}: partition ${JSON.stringify(partitionKey)}, ${operations.length} operations; ` +
      `the longest linearizable prefix found has ${longestPrefix.length}.`
  )
  lines.push(`Longest linearizable prefix (linearization order):`)
  if (longestPrefix.length === 0) lines.push(`  (empty)`)
  const skip = Math.max(0, longestPrefix.length - MAX_PREFIX_LINES)
  if (skip > 0) lines.push(`  … ${skip} earlier operations`)
  for (let k = skip; k < longestPrefix.length; k++) lines.push(`  ${k + 1}. ${formatOperation(model, longestPrefix[k]!)}`)
  lines.push(`State after the prefix: ${formatStates(model, statesAfterPrefix)}`)
  lines.push(`Cannot be linearized: ${formatOperation(model, failing)}`)
  lines.push(
    `  It must take effect by time ${deadline}, but no order of the operations that can come next ` +
      `(called by then, not in the prefix) reaches it:`
  )
  const equal = equalityOf(model)
  const current: Current<S> = statesAfterPrefix.length === 1
    ? statesAfterPrefix[0]!
    : new StateSet(statesAfterPrefix, statesAfterPrefix.map((s) => model.hash(s) | 0), 0)
  const scratch: Stepped<S> = { state: current, hash: 0 }
  for (const op of unplaced.slice(0, MAX_CANDIDATE_LINES)) {
    const legal = stepCurrent(model, equal, current, hashCurrent(model, current), op.input, op.output, scratch)
    const why = legal ? "allowed here, but every continuation fails later" : "impossible in this state"
    lines.push(`  - ${formatOperation(model, op)}: ${why}`)
  }
  if (unplaced.length > MAX_CANDIDATE_LINES) lines.push(`  … ${unplaced.length - MAX_CANDIDATE_LINES} more`)
  return { text: lines.join("\n"), failingOperation: failing, unplaced }
}
