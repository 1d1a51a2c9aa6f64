/**
 * Tuning of one node, validated at construction. Defaults follow the original library:
 * 150–300 ms elections, 50 ms heartbeats, 16 KiB snapshot chunks, 64 MiB snapshot cap, a
 * maximum term jump of 10 000, slow-propose warnings above 100 ms; a wedge is suspected after
 * 10 s without applying while the leader commits; at most 1 024 proposals in flight per node.
 */
import { Effect, Either } from "effect"
import { RaftConfigError } from "./RaftErrors.js"

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
  /**
   * Most proposals in flight on this node (proposed, not yet answered), forwarded ones included.
   * A proposal beyond it waits for one to finish, or fails with `Overloaded` when the caller asks
   * (`ProposeOptions.whenOverloaded`), so no client can push a node into missing its own
   * heartbeats.
   */
  readonly maxPendingProposals: number
}

export const DEFAULT_RAFT_CONFIG: RaftConfig = {
  electionTimeoutMin: 150,
  electionTimeoutMax: 300,
  heartbeatInterval: 50,
  snapshotChunkCeiling: 16 * 1024,
  snapshotTotalCeiling: 64 * 1024 * 1024,
  maxTermJump: 10_000,
  maxInflight: 8,
  maxBatchEntries: 4096,
  slowProposeThreshold: 100,
  wedgeSuspicionAfter: 10_000,
  maxPendingProposals: 1024
}

const positiveInt = (n: number) => Number.isSafeInteger(n) && n >= 1

/** Validates a full config; the first violated rule is the error. */
export const validate = (c: RaftConfig): Either.Either<RaftConfig, RaftConfigError> => {
  const fail = (reason: string) => Either.left(new RaftConfigError({ reason }))
  if (!positiveInt(c.electionTimeoutMin)) return fail("electionTimeoutMin must be a positive whole number of ms")
  if (!positiveInt(c.electionTimeoutMax)) return fail("electionTimeoutMax must be a positive whole number of ms")
  if (c.electionTimeoutMin >= c.electionTimeoutMax) return fail("electionTimeoutMin must be below electionTimeoutMax")
  if (!positiveInt(c.heartbeatInterval)) return fail("heartbeatInterval must be at least 1 whole ms")
  if (c.heartbeatInterval >= c.electionTimeoutMin) return fail("heartbeatInterval must be below electionTimeoutMin")
  if (!positiveInt(c.snapshotChunkCeiling)) return fail("snapshotChunkCeiling must be positive")
  if (!positiveInt(c.snapshotTotalCeiling)) return fail("snapshotTotalCeiling must be positive")
  if (!positiveInt(c.maxTermJump) || c.maxTermJump > 2 ** 20) return fail("maxTermJump must be in 1..2^20")
  if (!positiveInt(c.maxInflight)) return fail("maxInflight must be positive")
  if (!positiveInt(c.maxBatchEntries)) return fail("maxBatchEntries must be positive")
  if (!positiveInt(c.slowProposeThreshold)) return fail("slowProposeThreshold must be a positive whole number of ms")
  if (!positiveInt(c.wedgeSuspicionAfter)) return fail("wedgeSuspicionAfter must be a positive whole number of ms")
  if (!positiveInt(c.maxPendingProposals)) return fail("maxPendingProposals must be a positive whole number")
  return Either.right(c)
}

export const RaftConfig = {
  defaults: DEFAULT_RAFT_CONFIG,
  /** Fills in defaults and validates. */
  make: (overrides: Partial<RaftConfig> = {}): Effect.Effect<RaftConfig, RaftConfigError> =>
    validate({ ...DEFAULT_RAFT_CONFIG, ...overrides }),
  /** As `make`, throwing on an invalid config (for static configuration in tests/examples). */
  unsafeMake: (overrides: Partial<RaftConfig> = {}): RaftConfig =>
    Either.getOrThrow(validate({ ...DEFAULT_RAFT_CONFIG, ...overrides }))
}
