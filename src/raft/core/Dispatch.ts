/**
 * Message dispatch: every decoded frame passes the dispatch-boundary gates (a frame from
 * ourselves, the membership gate of `Trust.ts`, a term implausibly far ahead, a response we never
 * asked for), then goes to the decision module that owns its type. Refusals are traced and
 * counted by gate, never fatal; a refused leader frame also counts towards a suspected wedge and
 * may make us ask our members who leads.
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RefusalGate } from "../../../services/raft/RaftTrace.js"
import * as Elections from "./Elections.js"
import * as FollowerAppend from "./FollowerAppend.js"
import * as Forwarding from "./Forwarding.js"
import * as Membership from "./Membership.js"
import type { RaftCore } from "./RaftCore.js"
import * as ReadIndex from "./ReadIndex.js"
import * as Replication from "./Replication.js"
import * as SnapshotReceive from "./SnapshotReceive.js"
import * as Snapshots from "./Snapshots.js"
import * as Transfer from "./Transfer.js"
import * as Trust from "./Trust.js"

/** Handles one decoded frame from `from` (already known to be a well-formed message). */
export const receive = (core: RaftCore, from: NodeId, message: RaftMessage): void => {
  if (from === core.id) return core.refuse(from, message._tag, "NotAMember")
  // The membership gate: requests only from members (votes only from voters).
  const refusal = Trust.gate(core, from, message)
  if (refusal !== undefined) return refuseFrame(core, from, message, refusal)
  // Dispatch-boundary gate: a term far beyond ours is a poisoned or corrupt frame (original RefusalGate).
  const term = messageTerm(message)
  if (term !== undefined && term > core.term + core.cfg.maxTermJump) {
    return refuseFrame(core, from, message, "ImplausibleTermJump")
  }
  if (Membership.isUnsolicitedResponse(core, from, message)) return core.refuse(from, message._tag, "ResponseNotExpected")
  switch (message._tag) {
    case "PreVote":
      return Elections.onPreVote(core, from, message)
    case "PreVoteResponse":
      return Elections.onPreVoteResponse(core, from, message)
    case "RequestVote":
      return Elections.onRequestVote(core, from, message)
    case "RequestVoteResponse":
      return Elections.onRequestVoteResponse(core, from, message)
    case "AppendEntries":
      return FollowerAppend.onAppendEntries(core, from, message)
    case "AppendEntriesResponse":
      return Replication.onAppendEntriesResponse(core, from, message)
    case "Forward":
      return Forwarding.onForward(core, from, message)
    case "ForwardResponse":
      return Forwarding.onForwardResponse(core, from, message)
    case "TimeoutNow":
      return Transfer.onTimeoutNow(core, from, message)
    case "ReadIndexRequest":
      return ReadIndex.onReadIndexRequest(core, from, message)
    case "ReadIndexResponse":
      return ReadIndex.onReadIndexResponse(core, from, message)
    case "InstallSnapshot":
      return SnapshotReceive.onInstallSnapshot(core, from, message)
    case "InstallSnapshotResponse":
      return Snapshots.onInstallSnapshotResponse(core, from, message)
    case "VouchRequest":
      return Trust.onVouchRequest(core, from, message)
    case "Vouch":
      return Trust.onVouch(core, from, message)
  }
}

const refuseFrame = (core: RaftCore, from: NodeId, message: RaftMessage, gate: RefusalGate): void => {
  core.refuse(from, message._tag, gate)
  if (message._tag === "AppendEntries" || message._tag === "InstallSnapshot") {
    Trust.onLeaderFrameRefused(core, from, message.term, gate === "NotAMember")
  }
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
