/**
 * Message dispatch: every decoded frame passes the dispatch-boundary gates (a frame from
 * ourselves, the membership gate of `Trust.ts`, a term implausibly far ahead, a response we never
 * asked for), then goes to the step that owns its type. Refusals are traced and counted by gate,
 * never fatal; a refused leader frame also counts towards a suspected wedge (`Wedge.ts`) and may
 * make us ask our members who leads (vouching, `Trust.ts`), whose answers are handled here too.
 */
import type { NodeId } from "./Ids.js"
import * as Follower from "./Follower.js"
import * as Leader from "./Leader.js"
import { isUnsolicitedResponse } from "./Membership.js"
import type { RaftMessage, Vouch, VouchRequest } from "./Messages.js"
import type { NodeState } from "./NodeState.js"
import * as Proposals from "./Proposals.js"
import * as Requests from "./Requests.js"
import * as Trust from "./Trust.js"
import * as Voting from "./Voting.js"

/** Handles one decoded frame from `from` (already known to be a well-formed message). */
export const receive = (s: NodeState, from: NodeId, message: RaftMessage): void => {
  if (from === s.id) return s.refuse(from, message._tag, "NotAMember")
  // The membership gate: requests only from members (votes only from voters).
  const refusal = Trust.gate(s, from, message)
  if (refusal !== undefined) {
    s.refuse(from, message._tag, refusal)
    if (message._tag === "AppendEntries" || message._tag === "InstallSnapshot") {
      onLeaderFrameRefused(s, from, message.term, refusal === "NotAMember")
    }
    return
  }
  // Dispatch-boundary gate: a term far beyond ours is a poisoned or corrupt frame (original RefusalGate).
  const term = messageTerm(message)
  if (term !== undefined && term > s.term + s.cfg.maxTermJump) {
    s.refuse(from, message._tag, "ImplausibleTermJump")
    if (message._tag === "AppendEntries" || message._tag === "InstallSnapshot") onLeaderFrameRefused(s, from, message.term, false)
    return
  }
  if (isUnsolicitedResponse(s.config, from, message)) return s.refuse(from, message._tag, "ResponseNotExpected")
  switch (message._tag) {
    case "PreVote":
      return Voting.onPreVote(s, from, message)
    case "PreVoteResponse":
      return Voting.onPreVoteResponse(s, from, message)
    case "RequestVote":
      return Voting.onRequestVote(s, from, message)
    case "RequestVoteResponse":
      return Voting.onRequestVoteResponse(s, from, message)
    case "AppendEntries":
      return Follower.onAppendEntries(s, from, message)
    case "AppendEntriesResponse":
      return Leader.onAppendEntriesResponse(s, from, message)
    case "Forward":
      return Proposals.onForward(s, from, message)
    case "ForwardResponse":
      return Proposals.onForwardResponse(s, from, message)
    case "TimeoutNow":
      return Follower.onTimeoutNow(s, from, message)
    case "ReadIndexRequest":
      return Requests.onReadIndexRequest(s, from, message)
    case "ReadIndexResponse":
      return Requests.onReadIndexResponse(s, from, message)
    case "InstallSnapshot":
      return Follower.onInstallSnapshot(s, from, message)
    case "InstallSnapshotResponse":
      return Leader.onInstallSnapshotResponse(s, from, message)
    case "VouchRequest":
      return onVouchRequest(s, from, message)
    case "Vouch":
      return onVouch(s, from, message)
  }
}

/**
 * A leader frame from `from` claiming `term` (at least ours) was refused at the dispatch
 * boundary: count it towards a suspected wedge and, when the sender is unknown to us
 * (`unknownSender`), ask the members we trust who leads (at most once per `electionTimeoutMin`).
 */
const onLeaderFrameRefused = (s: NodeState, from: NodeId, term: number, unknownSender: boolean): void => {
  if (term < s.term) return
  if (s.wedge.refused(s.commitIndex)) s.suspectWedge("RefusedLeaderFrames", from, term)
  if (!unknownSender) return
  if (!s.vouch.ask(s.now, s.cfg.electionTimeoutMin, Trust.anchors(s))) return
  for (const id of s.vouch.asked) s.send(id, { _tag: "VouchRequest", term })
}

/** A member asks whom we follow: the leader of our current term, if we know a live one. */
const onVouchRequest = (s: NodeState, from: NodeId, _m: VouchRequest): void => {
  const leader = s.role === "Leader" ? s.id : s.leader
  s.send(from, leader === undefined ? { _tag: "Vouch", term: s.term } : { _tag: "Vouch", term: s.term, leader })
}

/** A member we asked answered: trust the leader it names at its term (never below ours). */
const onVouch = (s: NodeState, from: NodeId, m: Vouch): void => {
  const leader = s.vouch.accept(from, m, s.id, s.term)
  if (leader !== undefined) s.trace({ _tag: "LeaderVouched", at: s.now, node: s.id, voucher: from, leader, term: m.term })
}

/** The term a frame claims, for the dispatch-boundary gate (forwarding frames carry none). */
const messageTerm = (m: RaftMessage): number | undefined => {
  switch (m._tag) {
    case "Forward":
    case "ForwardResponse":
    case "ReadIndexRequest":
    case "ReadIndexResponse":
    case "VouchRequest":
    case "Vouch":
      return undefined
    case "PreVote":
    case "RequestVote":
    case "RequestVoteResponse":
    case "PreVoteResponse":
    case "AppendEntries":
    case "AppendEntriesResponse":
    case "InstallSnapshot":
    case "InstallSnapshotResponse":
    case "TimeoutNow":
      return m.term
  }
}
