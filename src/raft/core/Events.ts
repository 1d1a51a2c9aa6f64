/**
 * What the core reports besides its decisions: trace events (names follow etcd's TLA+ actions, as
 * in the original library; `at` is the node's clock in ms) and metric events, as plain tagged
 * objects. The public `RaftTraceEvent` and `RaftMetric` (`services/raft/RaftTrace.ts`) are the
 * same types with constructors for applications; the engine publishes the core's objects as they
 * are (test/raft/core/plain-types.test.ts checks the two stay identical).
 */
import type { Members } from "./Entries.js"
import type { NodeId } from "./Ids.js"
import type { RaftMessageType } from "./Messages.js"

/** `{ _tag: K } & fields` for each `K` of `Defs`, flattened (the same shape as Effect's `Data.TaggedEnum`). */
export type Tagged<Defs extends Record<string, Record<string, unknown>>> = keyof Defs extends infer Tag
  ? Tag extends keyof Defs ? Flat<{ readonly _tag: Tag } & { readonly [K in keyof Defs[Tag]]: Defs[Tag][K] }> : never
  : never

type Flat<A> = { [K in keyof A]: A[K] } extends infer B ? B : never

/** Why a node left leadership or candidacy. */
export type StepDownReason = "HigherTermObserved" | "AppendEntriesFromLeader" | "LostQuorum" | "RemovedFromConfig"

/** Why a (pre-)vote was denied; a denial lists every failing conjunct. */
export type DenyReason = "StaleTerm" | "AlreadyVoted" | "LogNotUpToDate" | "LeaderAlive" | "NotVoter"

/**
 * Why a decoded frame was refused before it touched any state. The membership gate
 * (`Trust.ts`) refuses with `NotAMember` (a sender outside the configuration in
 * force, both halves of a joint one, and — for a joiner with no voters yet — outside the nodes it
 * was told to join through), `NotAVoter` (a vote request or `TimeoutNow` from a member that is no
 * voter) and `VouchNotAsked` (a vouch nobody asked for).
 */
export type RefusalGate =
  | "ImplausibleNegativeTerm"
  | "ImplausibleTermJump"
  | "LeaderAuthority"
  | "ForgedLeaderForTerm"
  | "NotAMember"
  | "NotAVoter"
  | "VouchNotAsked"
  | "AppendEntriesPrevLogIndexOutOfRange"
  | "AppendEntriesNonContiguousBatch"
  | "AppendEntriesEntryTermOutOfRange"
  | "AppendEntriesIndexOutOfRange"
  | "ResponseNotExpected"
  | "TimeoutNowStaleTerm"
  | "TimeoutNowSelfLeaderOrCandidate"
  | "TimeoutNowFutureTerm"
  | "TimeoutNowSenderNotEstablishedLeader"
  | "TimeoutNowSelfLearner"
  | "InstallSnapshotIndexOutOfRange"
  | "InstallSnapshotTermOutOfRange"
  | "InstallSnapshotBelowCommittedTermFloor"

export type RaftTraceEvent = Tagged<{
  Timeout: { readonly at: number; readonly node: NodeId; readonly newTerm: number }
  PreVoteStarted: { readonly at: number; readonly node: NodeId; readonly proposedTerm: number }
  PreVoteGranted: { readonly at: number; readonly node: NodeId; readonly to: NodeId; readonly proposedTerm: number }
  PreVoteDenied: {
    readonly at: number
    readonly node: NodeId
    readonly to: NodeId
    readonly proposedTerm: number
    readonly reasons: ReadonlyArray<DenyReason>
  }
  RequestVote: {
    readonly at: number
    readonly from: NodeId
    readonly to: NodeId
    readonly term: number
    readonly lastLogIndex: number
    readonly lastLogTerm: number
  }
  VoteGranted: { readonly at: number; readonly from: NodeId; readonly to: NodeId; readonly term: number }
  VoteDenied: {
    readonly at: number
    readonly from: NodeId
    readonly to: NodeId
    readonly term: number
    readonly reasons: ReadonlyArray<DenyReason>
  }
  BecomeLeader: { readonly at: number; readonly node: NodeId; readonly term: number }
  BecomeFollower: { readonly at: number; readonly node: NodeId; readonly term: number; readonly reason: StepDownReason }
  ClientRequest: { readonly at: number; readonly node: NodeId; readonly index: number; readonly term: number }
  AppendEntriesRejected: {
    readonly at: number
    readonly from: NodeId
    readonly to: NodeId
    readonly conflictIndex: number
    readonly conflictTerm: number
  }
  AdvanceCommitIndex: { readonly at: number; readonly node: NodeId; readonly old: number; readonly new: number }
  FrameRefused: {
    readonly at: number
    readonly node: NodeId
    readonly from: NodeId
    readonly messageType: RaftMessageType
    readonly gate: RefusalGate
  }
  FrameUndecodable: {
    readonly at: number
    readonly node: NodeId
    readonly from: NodeId
    readonly byteCount: number
    readonly reason: string
  }
  ProposalDropped: { readonly at: number; readonly node: NodeId; readonly reason: string }
  /** A ReadIndex round confirmed leadership (thesis §6.4): reads queued before it may use `readIndex`. */
  ReadIndexConfirmed: { readonly at: number; readonly node: NodeId; readonly readIndex: number; readonly term: number }
  /** A leader began handing leadership to `target` (thesis §3.10). */
  LeadershipTransferStarted: { readonly at: number; readonly leader: NodeId; readonly target: NodeId }
  /** A pending transfer ended without `target` being confirmed as the new leader. */
  LeadershipTransferAbandoned: {
    readonly at: number
    readonly leader: NodeId
    readonly target: NodeId
    readonly reason: "TimedOut" | "Cancelled" | "ReElected"
  }
  /** An `Auto` client id was seen in use by another writer; the node minted a fresh one (thesis §6.3). */
  ClientIdReminted: { readonly at: number; readonly node: NodeId; readonly previous: string; readonly next: string }
  /** The log prefix through `throughIndex` was replaced by a consumer-published snapshot. */
  Compacted: { readonly at: number; readonly node: NodeId; readonly throughIndex: number; readonly throughTerm: number }
  /** A leader sent one InstallSnapshot chunk (§7, chunked: see `Snapshots.ts`). */
  InstallSnapshot: {
    readonly at: number
    readonly from: NodeId
    readonly to: NodeId
    readonly lastIncludedIndex: number
    readonly offset: number
    readonly done: boolean
  }
  /** A follower installed a complete snapshot (`from` is the leader that sent it). */
  InstallSnapshotAccepted: { readonly at: number; readonly from: NodeId; readonly to: NodeId; readonly lastIncludedIndex: number }
  /** A follower discarded a snapshot reassembly that would exceed `snapshotTotalCeiling`. */
  SnapshotRejected: {
    readonly at: number
    readonly node: NodeId
    readonly from: NodeId
    readonly lastIncludedIndex: number
    readonly attemptedTotal: number
    readonly ceiling: number
  }
  /**
   * A member of this node's configuration vouched for `leader` as leader of `term`: its frames at
   * that term are accepted although the configuration in force does not list it yet.
   */
  LeaderVouched: { readonly at: number; readonly node: NodeId; readonly voucher: NodeId; readonly leader: NodeId; readonly term: number }
  /** This node suspects it is wedged (see `RaftMetric.WedgeSuspected`). */
  WedgeSuspected: {
    readonly at: number
    readonly node: NodeId
    readonly reason: WedgeReason
    readonly leader: NodeId | undefined
    readonly leaderTerm: number
    readonly term: number
    readonly commitIndex: number
    readonly appliedIndex: number
  }
  /** A suspected wedge ended: the applied index moved again. */
  WedgeCleared: { readonly at: number; readonly node: NodeId; readonly appliedIndex: number }
  /** The membership in force changed: adopted on append, on install, or rolled back by truncation (§6). */
  ConfigChange: {
    readonly at: number
    readonly node: NodeId
    readonly index: number
    readonly old: Members | undefined
    readonly new: Members
  }
}>

/**
 * Why a node suspects it is wedged. `RefusedLeaderFrames`: 64 consecutive leader frames at a term
 * at least ours were refused at the dispatch boundary while our commit index did not move (a
 * leader we cannot trust keeps talking to us). `NotApplying`: a leader we follow reports a commit
 * index above what we applied, and our applied index has not moved for
 * `RaftConfig.wedgeSuspicionAfter`.
 */
export type WedgeReason = "RefusedLeaderFrames" | "NotApplying"

/** Metric events; the engine also exports them as Effect `Metric`s. */
export type RaftMetric = Tagged<{
  ProposeAccepted: { readonly logIndex: number; readonly term: number }
  /** A proposal made on this node committed (its caller was answered), `elapsedMs` after it was accepted. */
  ProposeCommitted: { readonly logIndex: number; readonly elapsedMs: number }
  /** A committed proposal made on this node reached this node's committed stream (its applied index). */
  ProposeApplied: { readonly logIndex: number; readonly elapsedMs: number }
  /** The election timer fired on this voter (a pre-vote or an election follows). */
  ElectionTimedOut: { readonly term: number }
  /**
   * This node suspects it is wedged (see `WedgeReason`); emitted once per episode, with a trace
   * event and a warning log, and shown in `RaftNode.health` until the applied index moves again.
   */
  WedgeSuspected: {
    readonly reason: WedgeReason
    readonly leader: NodeId | undefined
    readonly leaderTerm: number
    readonly term: number
    readonly commitIndex: number
    readonly appliedIndex: number
  }
  ElectionStarted: { readonly term: number }
  ElectionWon: { readonly term: number; readonly elapsedMs: number }
  ElectionSuppressedTermCeiling: { readonly term: number; readonly ceiling: number }
  FrameRefused: { readonly gate: RefusalGate }
  /** A follower refused a snapshot larger than `snapshotTotalCeiling` (a level: repeats per attempt). */
  SnapshotRejectedSizeCeiling: { readonly attemptedTotal: number; readonly ceiling: number }
}>
