/**
 * What one `WriteBatch` does to an IndexedDB-backed log, decided before touching the database.
 *
 * `IndexedDbRaftStorage` keeps a `Mirror` of the small durable records (hard state, leader
 * record, snapshot metadata, the log's shape) so that a batch can be validated synchronously with
 * the shared `validateWriteBatch` and turned into a list of store operations. The plan is pure:
 * it can be checked without a browser, and the storage applies `plan.next` as its new mirror only
 * when the transaction carrying `plan`'s operations has completed.
 */
import { Either } from "effect"
import type { LogEntry } from "../../../../services/raft/LogEntry.js"
import type { StorageError } from "../../../../services/raft/RaftErrors.js"
import type { HardState, LeaderForTerm, SnapshotMeta, StoredSnapshot, WriteBatch } from "../../../../services/raft/RaftStorage.js"
import { appendStart, type StoredLogView, validateWriteBatch } from "../../../../services/raft/validateWriteBatch.js"
import { LogShape } from "./IndexedDbRaftStorageLogShape.js"

/** The durable records other than entries and snapshot state, as last committed. */
export interface Mirror {
  readonly hardState: HardState
  readonly leaderForTerm: LeaderForTerm | null
  readonly snapshot: SnapshotMeta | null
  readonly log: LogShape
}

export const EMPTY_MIRROR: Mirror = {
  hardState: { term: 0, votedFor: null },
  leaderForTerm: null,
  snapshot: null,
  log: LogShape.empty
}

/** The validator's view of a mirror. */
export const viewOf = (m: Mirror): StoredLogView => ({
  hardState: m.hardState,
  leaderForTerm: m.leaderForTerm,
  snapshot: m.snapshot,
  firstIndex: m.log.first,
  lastIndex: m.log.last,
  termAt: (index) => m.log.termAt(index)
})

/**
 * The store operations of one batch, in the contract's order (snapshot, truncate, append, hard
 * state, leader record, discard), plus the mirror they lead to. Requests inside one IndexedDB
 * transaction run in the order they are issued, so issuing them in this order applies the batch
 * exactly as `InMemoryRaftStorage` does.
 */
export interface WritePlan {
  readonly next: Mirror
  readonly snapshot: StoredSnapshot | undefined
  /** Delete every entry with index ≥ this (a suffix truncation that removes something). */
  readonly deleteFrom: number | undefined
  /** Delete every entry: the remaining log lies below a newer snapshot and an append follows it. */
  readonly clearLog: boolean
  readonly append: ReadonlyArray<LogEntry>
  readonly hardState: HardState | undefined
  readonly leaderForTerm: LeaderForTerm | undefined
  /** Delete every entry with index ≤ this (a prefix discard that removes something). */
  readonly deleteThrough: number | undefined
  /** The log's shape changed: its record must be rewritten. */
  readonly logChanged: boolean
}

/** `Right(plan)` for a batch `validateWriteBatch` accepts on `mirror`, else its `StorageError`. */
export const planWrite = (mirror: Mirror, batch: WriteBatch): Either.Either<WritePlan, StorageError> =>
  Either.map(validateWriteBatch(viewOf(mirror), batch), () => {
    // Copies: the mirror must not change when the caller later mutates the batch's objects.
    const snapshot = batch.snapshot === undefined ? mirror.snapshot : { ...batch.snapshot.meta }
    let log = mirror.log

    let deleteFrom: number | undefined
    if (batch.truncateFrom !== undefined) {
      const truncated = log.truncateFrom(batch.truncateFrom)
      if (truncated !== log) deleteFrom = batch.truncateFrom
      log = truncated
    }

    const append = batch.append ?? []
    let clearLog = false
    if (append.length > 0) {
      // Entries all below a newer snapshot are dropped so the log stays one contiguous run.
      if (appendStart(log.last, snapshot?.lastIncludedIndex ?? 0).dropsStale) {
        clearLog = true
        log = LogShape.empty
      }
      log = log.append(append)
    }

    let deleteThrough: number | undefined
    if (batch.discardThrough !== undefined) {
      const discarded = log.discardThrough(batch.discardThrough)
      if (discarded !== log) deleteThrough = batch.discardThrough
      log = discarded
    }

    return {
      next: {
        hardState: batch.hardState === undefined ? mirror.hardState : { ...batch.hardState },
        leaderForTerm: batch.leaderForTerm === undefined ? mirror.leaderForTerm : { ...batch.leaderForTerm },
        snapshot,
        log
      },
      snapshot: batch.snapshot,
      deleteFrom,
      clearLog,
      append,
      hardState: batch.hardState,
      leaderForTerm: batch.leaderForTerm,
      deleteThrough,
      logChanged: log !== mirror.log
    }
  })
