/**
 * The Raft wire messages. These Schemas are the contract and its
 * documentation; the binary codec (`RaftCodec`) produces exactly their Types.
 *
 * No frame states its sender: the transport says who sent it (as in the original library, issue #1912).
 * `round` is the ReadIndex round nonce the leader stamps on AppendEntries/InstallSnapshot and a
 * follower echoes back (0 = none).
 */
import { Schema } from "effect"
import { ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import { DedupKey } from "../../../services/raft/ClientId.js"
import { Index, LogEntry, Term } from "../../../services/raft/LogEntry.js"
import { NodeId } from "../../../services/raft/NodeId.js"

const Round = Index

export const RequestVote = Schema.TaggedStruct("RequestVote", {
  term: Term,
  lastLogIndex: Index,
  lastLogTerm: Term,
  /** Set by a leadership-transfer target: stickiness does not block this vote (§3.10). */
  leadershipTransfer: Schema.Boolean
})
export const RequestVoteResponse = Schema.TaggedStruct("RequestVoteResponse", {
  term: Term,
  voteGranted: Schema.Boolean
})
export const PreVote = Schema.TaggedStruct("PreVote", {
  /** The term the candidate would campaign at (its current term + 1); nobody adopts it. */
  term: Term,
  lastLogIndex: Index,
  lastLogTerm: Term,
  round: Round
})
export const PreVoteResponse = Schema.TaggedStruct("PreVoteResponse", {
  /** The responder's current term. */
  term: Term,
  voteGranted: Schema.Boolean,
  proposedTerm: Term,
  round: Round
})
export const AppendEntries = Schema.TaggedStruct("AppendEntries", {
  term: Term,
  prevLogIndex: Index,
  prevLogTerm: Term,
  entries: Schema.Array(LogEntry),
  leaderCommit: Index,
  round: Round
})
export const AppendEntriesResponse = Schema.TaggedStruct("AppendEntriesResponse", {
  term: Term,
  success: Schema.Boolean,
  /** On success: the follower's log matches the leader's through this index. */
  matchIndex: Index,
  /** On rejection: the prevLogIndex of the rejected request (lets the leader drop stale rejections). */
  rejectedIndex: Index,
  /** On rejection: §5.3 fast backup hint; the first index of `conflictTerm`, or last + 1. */
  conflictIndex: Index,
  /** On rejection: the term at the conflicting index, 0 when the follower's log is too short. */
  conflictTerm: Term,
  echoedRound: Round
})
export const InstallSnapshot = Schema.TaggedStruct("InstallSnapshot", {
  term: Term,
  lastIncludedIndex: Index,
  lastIncludedTerm: Term,
  offset: Index,
  totalBytes: Index,
  data: Schema.Uint8ArrayFromSelf,
  done: Schema.Boolean,
  config: ConfigPayload,
  round: Round
})
export const InstallSnapshotResponse = Schema.TaggedStruct("InstallSnapshotResponse", {
  term: Term,
  lastIncludedIndex: Index,
  /** Bytes the follower holds: the leader resumes from here. */
  nextOffset: Index,
  echoedRound: Round
})
export const TimeoutNow = Schema.TaggedStruct("TimeoutNow", { term: Term })
export const Forward = Schema.TaggedStruct("Forward", {
  /** A nonce local to the forwarding node; matched together with the peer it was sent to. */
  clientRequestId: Index,
  command: Schema.Uint8ArrayFromSelf,
  dedupKey: DedupKey
})
export const ForwardOutcome = Schema.Union(
  Schema.TaggedStruct("Committed", { index: Index, term: Term }),
  Schema.TaggedStruct("NotLeader", {}),
  Schema.TaggedStruct("Failed", { reason: Schema.String })
)
export const ForwardResponse = Schema.TaggedStruct("ForwardResponse", {
  clientRequestId: Index,
  outcome: ForwardOutcome
})

/**
 * A follower or learner asks the leader for a read fence (thesis §6.4: the leader confirms it
 * still leads, then answers with its commit index). `requestId` is a nonce local to the asking
 * node, matched together with the peer it was sent to, like `Forward.clientRequestId`.
 */
export const ReadIndexRequest = Schema.TaggedStruct("ReadIndexRequest", { requestId: Index })
export const ReadIndexOutcome = Schema.Union(
  /** The leader's commit index once a quorum confirmed it still leads: apply through it, then read. */
  Schema.TaggedStruct("Fence", { index: Index }),
  /** The asked peer is not (or no longer) the leader. */
  Schema.TaggedStruct("NotLeader", {})
)
export const ReadIndexResponse = Schema.TaggedStruct("ReadIndexResponse", {
  requestId: Index,
  outcome: ReadIndexOutcome
})

/**
 * A node refused a leader frame from a peer outside its configuration (or outside the nodes a
 * joiner trusts) and asks the members it trusts who leads now (`term`: the term the unknown
 * sender claimed). A node that missed the membership change adding the new leader uses their
 * answer to accept that leader's frames for that term (see `src/raft/core/Trust.ts`).
 */
export const VouchRequest = Schema.TaggedStruct("VouchRequest", { term: Term })
/**
 * A member's answer: the leader it follows in its current `term` (itself when it leads), or none
 * when it knows no live leader.
 */
export const Vouch = Schema.TaggedStruct("Vouch", {
  term: Term,
  leader: Schema.optionalWith(NodeId, { exact: true })
})

export const RaftMessage = Schema.Union(
  RequestVote,
  RequestVoteResponse,
  PreVote,
  PreVoteResponse,
  AppendEntries,
  AppendEntriesResponse,
  InstallSnapshot,
  InstallSnapshotResponse,
  TimeoutNow,
  Forward,
  ForwardResponse,
  ReadIndexRequest,
  ReadIndexResponse,
  VouchRequest,
  Vouch
)
export type RaftMessage = typeof RaftMessage.Type
export type RequestVote = typeof RequestVote.Type
export type RequestVoteResponse = typeof RequestVoteResponse.Type
export type PreVote = typeof PreVote.Type
export type PreVoteResponse = typeof PreVoteResponse.Type
export type AppendEntries = typeof AppendEntries.Type
export type AppendEntriesResponse = typeof AppendEntriesResponse.Type
export type InstallSnapshot = typeof InstallSnapshot.Type
export type InstallSnapshotResponse = typeof InstallSnapshotResponse.Type
export type TimeoutNow = typeof TimeoutNow.Type
export type Forward = typeof Forward.Type
export type ForwardResponse = typeof ForwardResponse.Type
export type ForwardOutcome = typeof ForwardOutcome.Type
export type ReadIndexRequest = typeof ReadIndexRequest.Type
export type ReadIndexResponse = typeof ReadIndexResponse.Type
export type ReadIndexOutcome = typeof ReadIndexOutcome.Type
export type VouchRequest = typeof VouchRequest.Type
export type Vouch = typeof Vouch.Type
