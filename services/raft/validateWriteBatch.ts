/**
 * Write-side validation shared by every `RaftStorage` implementation: a batch the engine should
 * never produce is refused with `StorageError` before anything is written, so a bug in the engine
 * stops the node (fail-stop) instead of leaving durable state that `validateDurableState` would
 * reject at the next start — or worse, state that passes that check but breaks safety (a vote
 * changed within a term, two leaders pinned for one term).
 *
 * The check is incremental (it looks at the batch and at most three stored terms), so it costs
 * O(batch) per write whatever the log's length.
 */
import { Either } from "effect"
import type { LogEntry } from "./LogEntry.js"
import { StorageError } from "./RaftErrors.js"
import type { HardState, LeaderForTerm, SnapshotMeta, WriteBatch } from "./RaftStorage.js"
import { configProblem, entryProblem, idProblem, isPlausibleNumber } from "./validateDurableState.js"

/** What the validator needs to know about the stored state (the latest view, pending writes included). */
export interface StoredLogView {
  readonly hardState: HardState
  readonly leaderForTerm: LeaderForTerm | null
  readonly snapshot: SnapshotMeta | null
  /** Index of the first stored entry (possibly at or below the snapshot), or undefined if none. */
  readonly firstIndex: number | undefined
  /** Index of the last stored entry, or undefined if none. */
  readonly lastIndex: number | undefined
  /** Term of the stored entry at `index`, for `firstIndex ≤ index ≤ lastIndex`. */
  readonly termAt: (index: number) => number
}

/**
 * `Right(batch)` when applying `batch` to `view` (in the contract's order: snapshot, truncate,
 * append, hard state, leader-for-term, discard) yields a consistent state, else
 * `Left(StorageError)` naming the rule. Rules beyond well-formed numbers and ids:
 * - a snapshot never moves below the stored one; a new snapshot must agree with a kept log
 *   suffix (the stored entry at `lastIncludedIndex` has its term; the next one a term ≥ it);
 * - an append starts right after the log that remains after truncation — or, when that log does
 *   not reach the snapshot, right after the snapshot (the stale entries below it are then
 *   dropped by the storage); it is contiguous and its terms never decrease;
 * - the hard-state term never decreases, and within one term the vote is never changed or cleared;
 * - no entry or snapshot term exceeds the resulting hard-state term;
 * - the leader-for-term record never moves to a lower term, never names a second leader for the
 *   same term, and never exceeds the resulting hard-state term;
 * - `discardThrough` never exceeds the resulting snapshot's `lastIncludedIndex` (0 without one).
 */
export const validateWriteBatch = (view: StoredLogView, batch: WriteBatch): Either.Either<WriteBatch, StorageError> => {
  const problem = findProblem(view, batch)
  return problem === undefined
    ? Either.right(batch)
    : Either.left(new StorageError({ reason: `write batch rejected: ${problem}` }))
}

/**
 * Where the first entry of a non-empty `append` must sit, given the log left after truncation:
 * right after it when it reaches the snapshot, else right after the snapshot. `dropsStale` says
 * that the stored entries (all below the snapshot) must be dropped for the log to stay contiguous.
 */
export const appendStart = (
  remainingLast: number | undefined,
  snapshotIndex: number
): { readonly index: number; readonly dropsStale: boolean } =>
  remainingLast !== undefined && remainingLast >= snapshotIndex
    ? { index: remainingLast + 1, dropsStale: false }
    : { index: snapshotIndex + 1, dropsStale: remainingLast !== undefined }

const findProblem = (view: StoredLogView, batch: WriteBatch): string | undefined => {
  // 1. Snapshot.
  let snapshot = view.snapshot
  if (batch.snapshot !== undefined) {
    const { meta, state } = batch.snapshot
    if (!isPlausibleNumber(meta.lastIncludedIndex)) return `snapshot lastIncludedIndex ${meta.lastIncludedIndex} is not a safe integer in 0..2^53-1`
    if (!isPlausibleNumber(meta.lastIncludedTerm)) return `snapshot lastIncludedTerm ${meta.lastIncludedTerm} is not a safe integer in 0..2^53-1`
    if (!(state instanceof Uint8Array)) return "snapshot state is not a Uint8Array"
    const p = configProblem(meta.config)
    if (p !== undefined) return `snapshot ${p}`
    if (snapshot !== null && meta.lastIncludedIndex < snapshot.lastIncludedIndex) {
      return `snapshot at ${meta.lastIncludedIndex} would replace a later one at ${snapshot.lastIncludedIndex}`
    }
    snapshot = meta
  }
  const snapIndex = snapshot?.lastIncludedIndex ?? 0
  const snapTerm = snapshot?.lastIncludedTerm ?? 0

  // 2. Truncation: compute the bounds of what remains.
  let first = view.firstIndex
  let last = view.lastIndex
  if (batch.truncateFrom !== undefined) {
    const t = batch.truncateFrom
    if (!isPlausibleNumber(t)) return `truncateFrom ${t} is not a safe integer in 0..2^53-1`
    if (first !== undefined && last !== undefined && t <= last) {
      if (t <= first) first = last = undefined
      else last = t - 1
    }
  }
  const storedLast = last

  // 3. Append.
  const appended: ReadonlyArray<LogEntry> = batch.append ?? []
  let lastTerm = last === undefined ? undefined : view.termAt(last)
  if (appended.length > 0) {
    const start = appendStart(last, snapIndex)
    let expected = start.index
    let prevTerm = start.dropsStale || last === undefined ? snapTerm : view.termAt(last)
    for (let k = 0; k < appended.length; k++) {
      const e = appended[k]!
      const p = entryProblem(e)
      if (p !== undefined) return p
      if (e.index !== expected) {
        return k === 0
          ? `append starts at index ${e.index}, but the log continues at ${expected}`
          : `appended entries are not contiguous: index ${e.index} follows ${expected - 1}`
      }
      if (e.term < prevTerm) return `entry ${e.index} has term ${e.term}, below the preceding term ${prevTerm}`
      expected++
      prevTerm = e.term
    }
    if (start.dropsStale || first === undefined) first = start.index
    last = expected - 1
    lastTerm = prevTerm
  }
  // The term of the resulting entry at `i` (first ≤ i ≤ last): appended or stored.
  const termAtResult = (i: number): number =>
    appended.length > 0 && i >= appended[0]!.index ? appended[i - appended[0]!.index]!.term : view.termAt(i)

  if (batch.snapshot !== undefined && first !== undefined && last !== undefined) {
    if (snapIndex >= first && snapIndex < last && storedLast !== undefined && snapIndex <= storedLast) {
      const t = termAtResult(snapIndex)
      if (t !== snapTerm) {
        return `snapshot at ${snapIndex} has term ${snapTerm}, but the kept log holds term ${t} there (truncate the conflicting suffix)`
      }
    }
    if (snapIndex + 1 >= first && snapIndex + 1 <= last) {
      const t = termAtResult(snapIndex + 1)
      if (t < snapTerm) return `entry ${snapIndex + 1} has term ${t}, below the snapshot's lastIncludedTerm ${snapTerm}`
    }
  }

  // 4. Hard state.
  let hard = view.hardState
  if (batch.hardState !== undefined) {
    const next = batch.hardState
    if (!isPlausibleNumber(next.term)) return `hard-state term ${next.term} is not a safe integer in 0..2^53-1`
    if (next.votedFor !== null) {
      const p = idProblem(next.votedFor)
      if (p !== undefined) return `votedFor ${p}`
    }
    if (next.term < hard.term) return `hard-state term would decrease from ${hard.term} to ${next.term}`
    if (next.term === hard.term && hard.votedFor !== null && next.votedFor !== hard.votedFor) {
      return `the vote of term ${hard.term} would change from ${JSON.stringify(hard.votedFor)} to ${JSON.stringify(next.votedFor)}`
    }
    hard = next
  }
  if (lastTerm !== undefined && lastTerm > hard.term) {
    return `the log's last entry (index ${last}) would have term ${lastTerm}, above the hard-state term ${hard.term}`
  }
  if (snapTerm > hard.term) return `the snapshot term ${snapTerm} would exceed the hard-state term ${hard.term}`

  // 5. Leader for term.
  if (batch.leaderForTerm !== undefined) {
    const next = batch.leaderForTerm
    if (!isPlausibleNumber(next.term)) return `leader-for-term term ${next.term} is not a safe integer in 0..2^53-1`
    const p = idProblem(next.leaderId)
    if (p !== undefined) return `leader-for-term leader id ${p}`
    if (next.term > hard.term) return `leader-for-term term ${next.term} would exceed the hard-state term ${hard.term}`
    const old = view.leaderForTerm
    if (old !== null && next.term < old.term) return `leader-for-term would move back from term ${old.term} to ${next.term}`
    if (old !== null && next.term === old.term && next.leaderId !== old.leaderId) {
      return `term ${old.term} already has leader ${JSON.stringify(old.leaderId)}; ${JSON.stringify(next.leaderId)} cannot also lead it`
    }
  }

  // 6. Prefix discard.
  if (batch.discardThrough !== undefined) {
    const d = batch.discardThrough
    if (!isPlausibleNumber(d)) return `discardThrough ${d} is not a safe integer in 0..2^53-1`
    if (d > snapIndex) {
      return `discardThrough ${d} would drop entries no snapshot covers (${snapshot === null ? "no snapshot" : `snapshot at ${snapIndex}`})`
    }
  }
  return undefined
}
