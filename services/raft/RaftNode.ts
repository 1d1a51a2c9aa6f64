/**
 * The Raft service contract: one node of a replicated log (docs/ARCHITECTURE.md, "Raft").
 *
 * Observable state is `Subscribable` (`get` for now, `changes` for a stream). The committed log
 * arrives on `committed` (hot: from now on) or `committedFrom(index)` (replay, then live, with no
 * gap and no duplicate); every node emits the same sequence. Each subscriber reads the node's log
 * at its own pace: a slow one never slows the node or the other subscribers, and one that falls
 * behind the compaction floor receives `Install(latest snapshot)` and continues after it.
 */
import type { Effect, Option, Stream, Subscribable } from "effect"
import type { ClientId } from "./ClientId.js"
import type { ClusterConfig } from "./ClusterConfig.js"
import type { CommandEntry, Committed, Snapshot } from "./LogEntry.js"
import type { NodeId } from "./NodeId.js"
import type {
  ClientIdCollision,
  InvalidMembership,
  LeadershipLost,
  LeadershipTransferFailed,
  MembershipChangeInProgress,
  NotLeader,
  Overloaded,
  PayloadTooLarge,
  StorageError
} from "./RaftErrors.js"
import type { RaftRole } from "./RaftRole.js"
import type { RaftMetric, RaftTraceEvent, WedgeReason } from "./RaftTrace.js"

/**
 * A node's health at one moment, as a plain record (for dashboards and HTTP health checks).
 * `appliedIndex` is the highest index handed to the committed stream; `lastAppliedAdvanceAt` is
 * when it last moved (the node's clock, ms); `leaderCommitIndex` is the highest commit index a
 * leader this node follows reported. `wedge` is set while the node suspects it is wedged (see
 * `RaftMetric.WedgeSuspected`) and cleared when its applied index moves again.
 */
export interface RaftHealth {
  readonly node: NodeId
  readonly role: RaftRole
  readonly term: number
  /** The leader this node believes is live, or `null`. */
  readonly leader: NodeId | null
  readonly commitIndex: number
  readonly appliedIndex: number
  readonly lastAppliedAdvanceAt: number
  readonly leaderCommitIndex: number
  /** The last index in this node's log, durable or not (0 when empty). */
  readonly lastLogIndex: number
  /**
   * On a leader, each other member's acknowledged match index (Figure 2 `matchIndex[]`), voters
   * and learners; empty on every other role. `lastLogIndex − matchIndex` is that follower's lag.
   */
  readonly followers: ReadonlyArray<{ readonly id: NodeId; readonly matchIndex: number }>
  readonly wedge: {
    readonly reason: WedgeReason
    readonly since: number
    readonly leader: NodeId | null
    readonly leaderTerm: number
  } | null
  /** The node stopped (closed or failed). */
  readonly stopped: boolean
}

/** Options of `RaftNode.propose`: a caller-pinned request serial for retries across restarts. */
export interface ProposeOptions {
  /**
   * A caller-pinned request serial under this node's client id, for exactly-once retries across
   * restarts (with a durable client identity). Omitted: the node stamps the next serial.
   */
  readonly requestId?: number
  /**
   * When the node already has `RaftConfig.maxPendingProposals` proposals in flight, the call waits
   * for one to finish (in call order). See `ProposeFailFastOptions` for failing instead.
   */
  readonly whenOverloaded?: "wait"
}

/** `ProposeOptions` of a caller that would rather fail with `Overloaded` than wait for admission. */
export interface ProposeFailFastOptions {
  readonly requestId?: number
  /** With `RaftConfig.maxPendingProposals` proposals in flight, fail at once with `Overloaded`. */
  readonly whenOverloaded: "fail"
}

/**
 * Why a node stopped on its own: it could not persist (`StorageError`), or another live writer
 * uses its `Durable` client id (`ClientIdCollision`, thesis §6.3).
 */
export type RaftNodeFailure = StorageError | ClientIdCollision

/**
 * What a Raft node offers. The service tag is `RaftNode` (`src/raft/RaftNode.ts`), which also
 * carries the constructors `RaftNode.make` and `RaftNode.layer`.
 */
export interface RaftNodeShape {
  readonly id: NodeId
  /** The client id this node stamps on its proposals. */
  readonly clientId: Effect.Effect<ClientId>
  readonly role: Subscribable.Subscribable<RaftRole>
  /** The leader this node believes is live (informational; cleared on step-down and timeouts). */
  readonly leader: Subscribable.Subscribable<Option.Option<NodeId>>
  readonly term: Subscribable.Subscribable<number>
  /** The configuration of the latest config entry in the log, committed or not. */
  readonly membership: Subscribable.Subscribable<ClusterConfig>
  /** Monotonic. */
  readonly commitIndex: Subscribable.Subscribable<number>
  /** Index of the latest compaction (0 before any). */
  readonly compactionFloor: Subscribable.Subscribable<number>
  /**
   * Committed entries from the moment of subscription on (the first index after those already
   * handed out). Ends when the node closes.
   */
  readonly committed: Stream.Stream<Committed>
  /**
   * Committed entries from `fromIndex` on (never an index below it): replay, then live; with
   * `fromIndex` above the commit index it waits for that index. Ends when the node closes. When
   * `fromIndex` is at or below `compactionFloor` the replay starts with `Install(latest snapshot)`
   * (the entries it covers are gone), then the entries after it.
   *
   * Every subscriber has its own cursor into the node's log: it never blocks the node and is never
   * dropped. If compaction overtakes a slow subscriber, its next item is `Install(latest
   * snapshot)` and it continues after the snapshot, so each index reaches it exactly once, as its
   * entry or inside an `Install`.
   */
  readonly committedFrom: (fromIndex: number) => Stream.Stream<Committed>
  /** This node's health now (see `RaftHealth`); never fails, also on a stopped node. */
  readonly health: Effect.Effect<RaftHealth>
  /** Trace events; lossy (a slow reader misses events rather than slowing the node). */
  readonly trace: Stream.Stream<RaftTraceEvent>
  /** Metric events; lossy like `trace`. The same figures are also Effect `Metric`s. */
  readonly metrics: Stream.Stream<RaftMetric>
  /**
   * Proposes a command from any role and waits until it is committed. Fails with
   * `PayloadTooLarge` (nothing entered the log), `Overloaded` (only with `ProposeFailFastOptions`:
   * too many proposals in flight on this node, nothing entered the log), `LeadershipLost` (the leader lost its term while
   * the proposal was in flight: it may still commit, retry with the same `requestId`), or
   * `NotLeader` (the node is closed). With no known leader the call waits (interrupt it to give
   * up; a parked proposal whose caller gave up is never sent).
   *
   * A forwarded proposal also fails with `LeadershipLost` once the leader it went to can no longer
   * answer: this node sees a higher term or another leader, becomes candidate or leader itself,
   * or the transport loses that peer. It is not re-sent. Read `LeadershipLost` as "outcome
   * unknown" (the entry may sit in some log and commit later), never as a definite rejection.
   */
  readonly propose: {
    (
      command: Uint8Array,
      options: ProposeFailFastOptions
    ): Effect.Effect<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge | Overloaded>
    (command: Uint8Array, options?: ProposeOptions): Effect.Effect<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge>
  }
  /**
   * A linearizable read index (thesis §6.4), on the leader only: once its current-term no-op has
   * committed and a voter quorum (both quorums while joint) confirmed it still leads, the commit
   * index it recorded when the call arrived. Apply through that index, then read your state
   * machine. Writes nothing to the log; calls arriving together share one confirmation round; a
   * lone voter answers at once. Fails with `NotLeader` on any other role or a closed node, and
   * with `LeadershipLost` if the leader steps down first (CheckQuorum bounds the wait).
   */
  readonly readIndex: Effect.Effect<number, NotLeader | LeadershipLost>
  /**
   * A read fence from any role: the leader answers as `readIndex`; a follower or learner asks the
   * leader it knows over the wire (waiting for one if none is known, re-asking a new leader if its
   * leader changes) and returns the leader's read index. Apply through it, then read: the read
   * sees every write that completed before the call. Fails with `LeadershipLost` when the peer
   * asked was no longer leader or this leader stepped down, `NotLeader` when the node is closed.
   */
  readonly readFence: Effect.Effect<number, NotLeader | LeadershipLost>
  /**
   * Hands leadership to the voter `target` (thesis §3.10): proposals (and membership changes) are
   * refused with `NotLeader` meanwhile, the target is caught up to this leader's last index and
   * told to campaign at once (`TimeoutNow`). Returns when a leader frame from `target` at a newer
   * term arrives. Fails at once with `NotLeader`, `MembershipChangeInProgress` or
   * `LeadershipTransferFailed` (`InvalidTarget`: self or not a voter; `AlreadyInFlight`), later with
   * `LeadershipTransferFailed` (`TimedOut` after `electionTimeoutMax`, `Cancelled`, `ReElected`,
   * `NodeClosed`). After a failure a node that still leads resumes service. Interrupting the call
   * cancels the transfer.
   */
  readonly transferLeadership: (
    target: NodeId
  ) => Effect.Effect<void, NotLeader | MembershipChangeInProgress | LeadershipTransferFailed>
  /** Abandons a pending transfer (its caller gets `Cancelled`); a no-op when none is pending. */
  readonly cancelTransfer: Effect.Effect<void>
  /**
   * Changes the membership to `target` (§6; leader only). If the voter set is unchanged (only
   * learners move) one `Simple(target)` entry is appended; otherwise `Joint(old, target)`, and once
   * that commits an automatic `Simple(target)`. Succeeds with `target` when the final entry has
   * committed. The new configuration takes effect (and shows on `membership`) as soon as it is
   * appended, and rolls back if that entry is truncated. A leader that is not a voter of `target`
   * steps down (`RemovedFromConfig`) once the final entry commits. Fails with `NotLeader` (not the
   * leader, or closed), `MembershipChangeInProgress` (retryable: a change is pending, the latest
   * config entry is uncommitted, the configuration is joint, or this fresh leader has not yet
   * committed an entry of its term), `InvalidMembership` (no voters, or a node both voter and
   * learner), `LeadershipLost` (the leader lost its term before the final entry committed; the
   * change may still complete under the next leader). Interrupting the call stops waiting, not the
   * change. See `changeMembershipWithRetry`.
   */
  readonly changeMembership: (
    target: ClusterConfig
  ) => Effect.Effect<ClusterConfig, NotLeader | MembershipChangeInProgress | LeadershipLost | InvalidMembership>
  /**
   * Publishes the consumer's state machine through `snapshot.throughIndex` (every `Committed` item
   * up to it applied). The node compacts when `compactionFloor < throughIndex ≤` the last index it
   * handed out: it persists the snapshot (with the membership in force at that index), discards
   * the log prefix, and from then on streams the snapshot to followers that need what it covers and
   * replays it first in `committedFrom`. Otherwise (stale, ahead of the stream, closed node) it is
   * ignored. The bytes are copied; never fails.
   */
  readonly publishSnapshot: (snapshot: Snapshot) => Effect.Effect<void>
  /** Completes when this node is leader (never on a learner). */
  readonly awaitLeadership: Effect.Effect<void>
  /** Completes with the failure that stopped the node; never completes for a healthy node. */
  readonly awaitFailure: Effect.Effect<RaftNodeFailure>
  /** Stops the node (idempotent); pending calls fail with typed errors. */
  readonly close: Effect.Effect<void>
}

