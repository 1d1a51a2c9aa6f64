/**
 * What a node keeps durably (Figure 2's persistent state plus the snapshot, §7), as the plain
 * types the core reads at start and writes each turn. The storage contract
 * (`services/raft/RaftStorage.ts`) declares the same types for implementations.
 */
import type { ConfigPayload, LogEntry } from "./Entries.js"
import type { NodeId } from "./Ids.js"

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

export interface SnapshotMeta {
  readonly lastIncludedIndex: number
  readonly lastIncludedTerm: number
  /** The configuration in force at the cut (not the live one). */
  readonly config: ConfigPayload
}

export interface StoredSnapshot {
  readonly meta: SnapshotMeta
  readonly state: Uint8Array
}

/** Everything durable, as loaded at start. `entries` are those above the snapshot, in order. */
export interface DurableState {
  readonly hardState: HardState
  readonly leaderForTerm: LeaderForTerm | null
  readonly snapshot: StoredSnapshot | null
  readonly entries: ReadonlyArray<LogEntry>
}
