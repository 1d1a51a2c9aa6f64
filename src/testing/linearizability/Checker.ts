/**
 * The public entry point of the linearizability checker: validates the options and the history,
 * drops what cannot matter, partitions it, searches the partitions under a shared step budget and
 * reports the worst result.
 *
 * Budgets count search steps, never wall time, so a verdict is reproducible: the same history and
 * options always give the same answer on any machine. Exhausting a budget gives "unknown", never
 * "ok".
 *
 * The budget is shared fairly: partitions take turns, each turn allowing every undecided partition
 * 1.5 times the cumulative steps of the previous one (4 096, 6 144, 9 216, …). A partition that
 * needs s steps is decided after at most 1.5s of its own steps, whatever the others need (1.5
 * rather than 2: the others' overshoot is smaller; on Porcupine's kv/c50-bad it took 85 k steps
 * instead of 140 k to reach the violating key), and a violation anywhere
 * ends the check, so one hard partition can neither starve the rest nor hide a violation found
 * cheaply elsewhere. (Porcupine gets the same effect by running partitions as goroutines.)
 */
import { Data } from "effect"
import type { Operation } from "./History.js"
import { HistoryError, UNKNOWN } from "./History.js"
import { explainViolation } from "./Explain.js"
import { MEMO_ENTRY_LIMIT } from "./Memo.js"
import type { Model, Partition } from "./Model.js"
import { PartitionSearch } from "./Search.js"

/** Limits of a check. All are counts, so verdicts do not depend on machine speed. */
export interface CheckOptions {
  /** Search steps for the whole check (default 10 000 000: tens of seconds at most). */
  readonly maxSteps?: number
  /** Search steps for any one partition (default: `maxSteps`). */
  readonly maxStepsPerPartition?: number
  /**
   * Memo entries for any one partition, bounding memory (default 5 000 000; about 40 bytes each
   * plus the states). Storage grows as needed, so a large value costs nothing up front; values
   * above 2^26 act as 2^26, and running out of memory gives "unknown". Partitions waiting for
   * their next turn keep their memo, so several can hold this many at once.
   */
  readonly maxMemoEntries?: number
}

/**
 * An option of {@link checkLinearizability} that is not a count: each must be a non-negative
 * integer or `Infinity` (no limit).
 */
export class CheckOptionsError extends Data.TaggedError("CheckOptionsError")<{
  readonly option: keyof CheckOptions
  readonly value: unknown
  readonly message: string
}> {}

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
/** Cumulative steps each partition may take in the first turn; × 1.5 every turn. */
const FIRST_TURN_STEPS = 4096

/**
 * Checks that `history` is linearizable with respect to `model`: there is a total order of the
 * operations, consistent with real time (an operation that returned before another was called
 * comes first), in which each operation's output is what the model produces. Unknown-outcome
 * operations may take effect anywhere after their call, or never.
 *
 * Partitions (from `model.partition`) take turns with growing step allowances (see the module
 * comment); the first violation ends the check. Otherwise the result is "unknown" if any partition
 * ran out of budget, else "ok".
 *
 * @throws CheckOptionsError if an option is not a non-negative integer or `Infinity`.
 * @throws HistoryError if the history is malformed (duplicate ids, call > return, a known output
 * with an infinite return or an unknown one with a finite return): a harness bug, not a verdict.
 */
export const checkLinearizability = <S, I, O>(
  model: Model<S, I, O>,
  history: ReadonlyArray<Operation<I, O>>,
  options: CheckOptions = {}
): CheckResult<I, O> => {
  const maxSteps = count(options, "maxSteps", DEFAULT_MAX_STEPS)
  const perPartition = count(options, "maxStepsPerPartition", maxSteps)
  const maxMemoEntries = Math.min(count(options, "maxMemoEntries", DEFAULT_MAX_MEMO), MEMO_ENTRY_LIMIT)
  validate(history)
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
  const giveUp = (key: string, why: string) => {
    undecided.push(key)
    reason ||= `partition ${JSON.stringify(key)}: ${why}`
  }
  let pending: Array<{ readonly part: Partition<I, O>; search?: PartitionSearch<S, I, O> }> = partitions.map((
    part
  ) => ({ part }))
  for (let turn = FIRST_TURN_STEPS; pending.length > 0; turn = Math.min(Math.floor(turn * 1.5), Number.MAX_SAFE_INTEGER)) {
    const still: typeof pending = []
    for (const p of pending) {
      const left = maxSteps - steps
      if (left <= 0) {
        giveUp(p.part.key, `step budget of ${maxSteps} exhausted`)
        continue
      }
      const search = p.search ??= new PartitionSearch(model, p.part.operations, maxMemoEntries)
      const before = search.steps
      const status = search.run(Math.min(turn, perPartition, before + left))
      steps += search.steps - before
      switch (status) {
        case "ok":
          break
        case "violation": {
          const prefix = search.longestPrefix()
          const why = explainViolation(model, p.part.key, p.part.operations, prefix.operations, prefix.statesAfter)
          return {
            result: "violation",
            partition: p.part.key,
            explanation: why.text,
            longestPrefix: prefix.operations,
            failingOperation: why.failingOperation,
            unplaced: why.unplaced,
            steps
          }
        }
        case "exhausted":
          giveUp(p.part.key, search.reason)
          break
        case "paused":
          if (steps >= maxSteps) giveUp(p.part.key, `step budget of ${maxSteps} exhausted`)
          else if (search.steps >= perPartition) giveUp(p.part.key, `step budget of ${perPartition} per partition exhausted`)
          else still.push(p)
          break
      }
    }
    pending = still
  }
  if (undecided.length > 0) return { result: "unknown", reason, undecided, steps }
  return { result: "ok", partitions: partitions.length, steps }
}

/** The option's value, checked: a non-negative integer or `Infinity`. */
const count = (options: CheckOptions, option: keyof CheckOptions, fallback: number): number => {
  const value: unknown = options[option]
  if (value === undefined) return fallback
  if (typeof value === "number" && (value === Infinity || (Number.isInteger(value) && value >= 0))) return value
  throw new CheckOptionsError({
    option,
    value,
    message: `checkLinearizability: option ${option} must be a non-negative integer or Infinity, got ${String(value)}`
  })
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
