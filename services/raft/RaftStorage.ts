/**
 * Durable state of one Raft node (Figure 2's persistent state plus the snapshot).
 *
 * The engine reads everything once at start (`load`) and then writes one `WriteBatch` per loop
 * turn (group commit). A batch is atomic and durable when its Effect succeeds: no vote grant or
 * append acknowledgement leaves the node before that. A failing write stops the node
 * (fail-stop: a node that cannot persist must not pretend it did).
 */
import type { Effect } from "effect"
import { Context } from "effect"
import type { ConfigPayload } from "./ClusterConfig.js"
import type { LogEntry } from "./LogEntry.js"
import type { NodeId } from "./NodeId.js"
import type { CorruptDurableState, StorageError } from "./RaftErrors.js"

/** currentTerm and votedFor, always saved together. */
export interface HardState {
  readonly term: number
  readonly votedFor: NodeId | null
}

/** The leader this node recognised for `term` (pins one leader per term, authenticates TimeoutNow). */
export interface LeaderForTerm {
  readonly term: number
  readonly leaderId: NodeId
}

/** What a snapshot covers: the last index and term it includes, and the configuration at that point (§7). */
export interface SnapshotMeta {
  readonly lastIncludedIndex: number
  readonly lastIncludedTerm: number
  /** The configuration in force at the cut (not the live one). */
  readonly config: ConfigPayload
}

/** A snapshot as storage holds it: its metadata and the state machine's bytes. */
export interface StoredSnapshot {
  readonly meta: SnapshotMeta
  readonly state: Uint8Array
}

/**
 * One turn's writes, applied in this order as one atomic, durable unit: snapshot, truncate,
 * append, hard state, leader-for-term, prefix discard. A batch whose result would be inconsistent
 * (see `services/raft/validateWriteBatch.ts`) fails with `StorageError` and changes nothing.
 */
export interface WriteBatch {
  readonly snapshot?: StoredSnapshot
  /** Remove every entry with index ≥ this. */
  readonly truncateFrom?: number
  /**
   * Entries to append; contiguous with what remains after truncation — or, when that does not
   * reach the snapshot (e.g. right after installing one), starting at `lastIncludedIndex + 1`,
   * which drops the stale entries below the snapshot.
   */
  readonly append?: ReadonlyArray<LogEntry>
  readonly hardState?: HardState
  readonly leaderForTerm?: LeaderForTerm
  /**
   * Drop entries with index ≤ this (idempotent; tolerates a floor below the first entry). Never
   * above the snapshot's `lastIncludedIndex`: only a snapshot-covered prefix may go.
   */
  readonly discardThrough?: number
}

/** Everything durable, as loaded at start. `entries` are those above the snapshot, in order. */
export interface DurableState {
  readonly hardState: HardState
  readonly leaderForTerm: LeaderForTerm | null
  readonly snapshot: StoredSnapshot | null
  readonly entries: ReadonlyArray<LogEntry>
}

/** What a `RaftStorage` offers; the service is `RaftStorage` below. */
export interface RaftStorageShape {
  readonly load: Effect.Effect<DurableState, StorageError | CorruptDurableState>
  readonly write: (batch: WriteBatch) => Effect.Effect<void, StorageError>
  /**
   * Entries with `from ≤ index < toExclusive` still in the log (above the discarded prefix, so
   * possibly at or below the snapshot); a range outside the log yields fewer or no entries.
   */
  readonly entries: (from: number, toExclusive: number) => Effect.Effect<ReadonlyArray<LogEntry>, StorageError>
}

/**
 * The `RaftStorage` service: where `RaftNode.layer` finds its durable state
 * (`InMemoryRaftStorage.layer`, `SqlRaftStorage.layerSqlite`, `IndexedDbRaftStorage.layer`, or your own).
 */
export class RaftStorage extends Context.Tag("kuilt/RaftStorage")<RaftStorage, RaftStorageShape>() {}

/** The state of a node that never wrote anything. */
export const EMPTY_DURABLE_STATE: DurableState = {
  hardState: { term: 0, votedFor: null },
  leaderForTerm: null,
  snapshot: null,
  entries: []
}
