/**
 * The knobs the core reads (the public `RaftConfig` of `services/raft/RaftConfig.ts` has exactly
 * these fields and validates them) and the roles a node takes.
 */

/** A node's role. Voters start as `Follower`, learners stay `Learner`. */
export type RaftRole = "Leader" | "Follower" | "Candidate" | "Learner"

export interface RaftConfig {
  /** Lower bound of the randomized election timeout (ms). Also the leader-stickiness lease. */
  readonly electionTimeoutMin: number
  /** Upper bound (exclusive) of the election timeout (ms); also the transfer abandon window. */
  readonly electionTimeoutMax: number
  /** Leader heartbeat period (ms); must be below `electionTimeoutMin`. */
  readonly heartbeatInterval: number
  /** Raw snapshot bytes per InstallSnapshot chunk (further cut to the payload budget). */
  readonly snapshotChunkCeiling: number
  /** Largest snapshot a follower reassembles. */
  readonly snapshotTotalCeiling: number
  /** Frames whose term exceeds ours by more than this are dropped (a poisoned-term guard). */
  readonly maxTermJump: number
  /** AppendEntries batches in flight per follower while replicating (pipelining window). */
  readonly maxInflight: number
  /** Most entries in one AppendEntries, whatever the budget. */
  readonly maxBatchEntries: number
  /** A proposal slower than this (ms, propose to commit) logs a warning naming its index. */
  readonly slowProposeThreshold: number
  /**
   * A node that follows a leader whose commit index is above its own applied index, and whose
   * applied index has not moved for this long (ms), suspects it is wedged (`WedgeSuspected`).
   */
  readonly wedgeSuspicionAfter: number
  /** Most proposals in flight on this node; the engine admits beyond it only by waiting or `Overloaded`. */
  readonly maxPendingProposals: number
}
