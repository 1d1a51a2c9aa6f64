/**
 * The Raft messages the core receives and sends, as plain types. Their wire contract is the
 * Schemas of `src/codec/raft/RaftMessage.ts`, whose types are exactly these, and the binary codec
 * (`src/codec/raft/RaftCodec.ts`) decodes straight into them
 * (test/raft/core/plain-types.test.ts checks the two stay identical).
 *
 * No frame states its sender: the transport says who sent it. `round` is the ReadIndex round the
 * leader stamps on AppendEntries/InstallSnapshot and a follower echoes back (0 = none, thesis §6.4).
 */
import type { ConfigPayload, LogEntry } from "./Entries.js"
import type { DedupKey, NodeId } from "./Ids.js"

export interface RequestVote {
  readonly _tag: "RequestVote"
  readonly term: number
  readonly lastLogIndex: number
  readonly lastLogTerm: number
  /** Set by a leadership-transfer target: stickiness does not block this vote (thesis §3.10). */
  readonly leadershipTransfer: boolean
}

export interface RequestVoteResponse {
  readonly _tag: "RequestVoteResponse"
  readonly term: number
  readonly voteGranted: boolean
}

export interface PreVote {
  readonly _tag: "PreVote"
  /** The term the candidate would campaign at (its current term + 1); nobody adopts it. */
  readonly term: number
  readonly lastLogIndex: number
  readonly lastLogTerm: number
  readonly round: number
}

export interface PreVoteResponse {
  readonly _tag: "PreVoteResponse"
  /** The responder's current term. */
  readonly term: number
  readonly voteGranted: boolean
  readonly proposedTerm: number
  readonly round: number
}

export interface AppendEntries {
  readonly _tag: "AppendEntries"
  readonly term: number
  readonly prevLogIndex: number
  readonly prevLogTerm: number
  readonly entries: ReadonlyArray<LogEntry>
  readonly leaderCommit: number
  readonly round: number
}

export interface AppendEntriesResponse {
  readonly _tag: "AppendEntriesResponse"
  readonly term: number
  readonly success: boolean
  /** On success: the follower's log matches the leader's through this index. */
  readonly matchIndex: number
  /** On rejection: the prevLogIndex of the rejected request (lets the leader drop stale rejections). */
  readonly rejectedIndex: number
  /** On rejection: §5.3 fast backup hint; the first index of `conflictTerm`, or last + 1. */
  readonly conflictIndex: number
  /** On rejection: the term at the conflicting index, 0 when the follower's log is too short. */
  readonly conflictTerm: number
  readonly echoedRound: number
}

export interface InstallSnapshot {
  readonly _tag: "InstallSnapshot"
  readonly term: number
  readonly lastIncludedIndex: number
  readonly lastIncludedTerm: number
  readonly offset: number
  readonly totalBytes: number
  readonly data: Uint8Array
  readonly done: boolean
  readonly config: ConfigPayload
  readonly round: number
}

export interface InstallSnapshotResponse {
  readonly _tag: "InstallSnapshotResponse"
  readonly term: number
  readonly lastIncludedIndex: number
  /** Bytes the follower holds: the leader resumes from here. */
  readonly nextOffset: number
  readonly echoedRound: number
}

export interface TimeoutNow {
  readonly _tag: "TimeoutNow"
  readonly term: number
}

export interface Forward {
  readonly _tag: "Forward"
  /** A nonce local to the forwarding node; matched together with the peer it was sent to. */
  readonly clientRequestId: number
  readonly command: Uint8Array
  readonly dedupKey: DedupKey
}

export type ForwardOutcome =
  | { readonly _tag: "Committed"; readonly index: number; readonly term: number }
  | { readonly _tag: "NotLeader" }
  | { readonly _tag: "Failed"; readonly reason: string }

export interface ForwardResponse {
  readonly _tag: "ForwardResponse"
  readonly clientRequestId: number
  readonly outcome: ForwardOutcome
}

/** A follower or learner asks the leader for a read fence (thesis §6.4). */
export interface ReadIndexRequest {
  readonly _tag: "ReadIndexRequest"
  readonly requestId: number
}

export type ReadIndexOutcome =
  | { readonly _tag: "Fence"; readonly index: number }
  | { readonly _tag: "NotLeader" }

export interface ReadIndexResponse {
  readonly _tag: "ReadIndexResponse"
  readonly requestId: number
  readonly outcome: ReadIndexOutcome
}

/** Who leads now? Asked of trusted members after refusing an unknown leader's frame (`Trust.ts`). */
export interface VouchRequest {
  readonly _tag: "VouchRequest"
  readonly term: number
}

/** A member's answer: the leader it follows in its current `term`, if it knows a live one. */
export interface Vouch {
  readonly _tag: "Vouch"
  readonly term: number
  readonly leader?: NodeId
}

export type RaftMessage =
  | RequestVote
  | RequestVoteResponse
  | PreVote
  | PreVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow
  | Forward
  | ForwardResponse
  | ReadIndexRequest
  | ReadIndexResponse
  | VouchRequest
  | Vouch

/** The wire frame kinds (for refusal traces). */
export type RaftMessageType = RaftMessage["_tag"]
