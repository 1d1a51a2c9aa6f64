/**
 * The public entry point of the linearizability checker: validates the history, drops what cannot
 * matter, partitions it, searches each partition under a step budget and reports the worst result.
 *
 * Budgets count search steps, never wall time, so a verdict is reproducible: the same history and
 * options always give the same answer on any machine. Exhausting a budget gives "unknown", never
 * "ok".
 */
import type { Operation } from "./History.js"
import { HistoryError, UNKNOWN } from "./History.js"
import { explainViolation } from "./Explain.js"
import type { Model, Partition } from "./Model.js"
import { searchPartition } from "./Search.js"

/** Limits of a check. All are counts, so verdicts do not depend on machine speed. */
export interface CheckOptions {
  /** Search steps for the whole check (default 10 000 000: tens of seconds at most). */
  readonly maxSteps?: number
  /** Search steps for any one partition (default: `maxSteps`). */
  readonly maxStepsPerPartition?: number
  /** Memo entries for any one partition, bounding memory (default 5 000 000). */
  readonly maxMemoEntries?: number
}

/** Every partition linearizes. */
export interface CheckOk {
  readonly result: "ok"
  readonly partitions: number
  readonly steps: number
}

/** A partition that does not linearize, explained (see `explanation` for the text). */
export interface CheckViolation<I, O> {
  readonly result: "violation"
  /** The partition key (e.g. the KV key), or `"*"` when the model does not partition. */
  readonly partition: string
  /** Multi-line, human-readable: prefix, state, failing operation, operations that could not be placed. */
  readonly explanation: string
  /** The longest linearizable prefix of the partition that the search found, in order. */
  readonly longestPrefix: ReadonlyArray<Operation<I, O>>
  /** The operation whose return could not be reached after that prefix. */
  readonly failingOperation: Operation<I, O>
  /** The operations that could have come next after the prefix, none of which leads to a linearization. */
  readonly unplaced: ReadonlyArray<Operation<I, O>>
  readonly steps: number
}

/** The budget ran out before a verdict; nothing is known (in particular, not "ok"). */
export interface CheckUnknown {
  readonly result: "unknown"
  readonly reason: string
  /** The partitions left undecided. */
  readonly undecided: ReadonlyArray<string>
  readonly steps: number
}

/** The verdict of {@link checkLinearizability}. */
export type CheckResult<I, O> = CheckOk | CheckViolation<I, O> | CheckUnknown

const DEFAULT_MAX_STEPS = 10_000_000
const DEFAULT_MAX_MEMO = 5_000_000

/**
 * Checks that `history` is linearizable with respect to `model`: there is a total order of the
 * operations, consistent with real time (an operation that returned before another was called
 * comes first), in which each operation's output is what the model produces. Unknown-outcome
 * operations may take effect anywhere after their call, or never.
 *
 * Partitions (from `model.partition`) are checked one after the other in order; the first
 * violation ends the check. Otherwise the result is "unknown" if any partition ran out of budget,
 * else "ok".
 *
 * @throws HistoryError if the history is malformed (duplicate ids, call > return, a known output
 * with an infinite return or an unknown one with a finite return): a harness bug, not a verdict.
 */
export const checkLinearizability = <S, I, O>(
  model: Model<S, I, O>,
  history: ReadonlyArray<Operation<I, O>>,
  options: CheckOptions = {}
): CheckResult<I, O> => {
  validate(history)
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS
  const perPartition = options.maxStepsPerPartition ?? maxSteps
  const maxMemoEntries = options.maxMemoEntries ?? DEFAULT_MAX_MEMO
  // An unknown read can be left un-linearized and constrains nothing: drop it before the search.
  const readOnly = model.readOnly
  const relevant = readOnly === undefined
    ? history
    : history.filter((op) => op.output !== UNKNOWN || !readOnly(op.input))
  const partitions: ReadonlyArray<Partition<I, O>> = model.partition === undefined
    ? [{ key: "*", operations: relevant }]
    : model.partition(relevant)

  let steps = 0
  const undecided: Array<string> = []
  let reason = ""
  for (const [index, part] of partitions.entries()) {
    const left = maxSteps - steps
    if (left <= 0) {
      for (const p of partitions.slice(index)) undecided.push(p.key)
      reason ||= `step budget of ${maxSteps} exhausted`
      break
    }
    const outcome = searchPartition(model, part.operations, {
      maxSteps: Math.min(left, perPartition),
      maxMemoEntries
    })
    steps += outcome.steps
    if (outcome.kind === "unknown") {
      undecided.push(part.key)
      reason ||= `partition ${JSON.stringify(part.key)}: ${outcome.reason}`
    } else if (outcome.kind === "violation") {
      const why = explainViolation(model, part.key, part.operations, outcome.longestPrefix, outcome.statesAfterPrefix)
      return {
        result: "violation",
        partition: part.key,
        explanation: why.text,
        longestPrefix: outcome.longestPrefix,
        failingOperation: why.failingOperation,
        unplaced: why.unplaced,
        steps
      }
    }
  }
  if (undecided.length > 0) return { result: "unknown", reason, undecided, steps }
  return { result: "ok", partitions: partitions.length, steps }
}

const validate = <I, O>(history: ReadonlyArray<Operation<I, O>>): void => {
  const ids = new Set<number>()
  for (const op of history) {
    if (ids.has(op.id)) throw new HistoryError(`duplicate operation id ${op.id}`)
    ids.add(op.id)
    if (!Number.isFinite(op.call)) throw new HistoryError(`operation ${op.id}: call time ${op.call} is not finite`)
    if (op.output === UNKNOWN) {
      if (op.return !== Infinity) throw new HistoryError(`operation ${op.id}: unknown outcome needs return = Infinity`)
    } else if (!Number.isFinite(op.return) || op.return < op.call) {
      throw new HistoryError(`operation ${op.id}: return ${op.return} must be finite and >= call ${op.call}`)
    }
  }
}
