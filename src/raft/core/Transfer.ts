/**
 * Leadership transfer (thesis §3.10).
 *
 * The leader stops taking proposals (and membership changes), brings the target's log up to its
 * own LAST index, then sends `TimeoutNow`. The target, after checking that the frame really comes
 * from the leader of its current term, starts a real election at once — no PreVote — and its
 * RequestVote carries `leadershipTransfer`, so leader stickiness (§4.2.3) does not block it.
 *
 * The transfer succeeds only when a leader-authored frame from the target arrives at a term above
 * the one the transfer started in; stepping down on its own does not end it. It fails after
 * `electionTimeoutMax` (`TimedOut`), on `cancelTransfer` or an interrupted caller (`Cancelled`),
 * or when this node is elected again first (`ReElected`). Once it has failed, a node still
 * leading resumes normal service.
 */
import type { TimeoutNow } from "./Messages.js"
import type { NodeId } from "./Ids.js"
import type { TransferFailureReason } from "./Ready.js"
import { campaign } from "./Elections.js"
import { allVoters } from "./Quorum.js"
import type { RaftCore } from "./RaftCore.js"

/** A transfer in flight. */
export interface PendingTransfer {
  readonly handle: number
  readonly target: NodeId
  /** The term this node led when the transfer started. */
  readonly term: number
  /** Absolute time (ms) at which the transfer is abandoned as `TimedOut`. */
  readonly deadline: number
  timeoutNowSent: boolean
}

/** True while a transfer is pending: the leader refuses proposals and membership changes. */
export const inFlight = (core: RaftCore): boolean => core.transfer !== undefined

/** Starts a transfer to `target`; immediate failures resolve `handle` at once. */
export const start = (core: RaftCore, handle: number, target: NodeId): void => {
  const fail = (reason: TransferFailureReason): void => {
    core.ready.resolutions.push({ handle, outcome: { _tag: "TransferFailed", target, reason } })
  }
  if (core.role !== "Leader") {
    core.ready.resolutions.push({
      handle,
      outcome: { _tag: "NotLeader", leader: core.leader, reason: "only the leader can transfer leadership" }
    })
    return
  }
  if (target === core.id || !allVoters(core.config).has(target)) return fail("InvalidTarget")
  // A transfer in the middle of a membership change could hand leadership to a node whose
  // configuration differs from ours; the original refuses it, and so do we.
  if (core.membershipChange !== undefined || core.config.old !== undefined || core.configIndex > core.commitIndex) {
    core.ready.resolutions.push({ handle, outcome: { _tag: "MembershipChangeInProgress" } })
    return
  }
  if (core.transfer !== undefined) return fail("AlreadyInFlight")
  core.transfer = { handle, target, term: core.term, deadline: core.now + core.cfg.electionTimeoutMax, timeoutNowSent: false }
  core.trace({ _tag: "LeadershipTransferStarted", at: core.now, leader: core.id, target })
  // Replicate at the end of the turn, so a lagging target starts catching up at once.
  core.dirty = true
  maybeSendTimeoutNow(core, false)
}

/**
 * Sends `TimeoutNow` once the target holds our whole log. `resend`: a heartbeat repeats it in case
 * the first was lost (a target that already campaigns refuses the duplicate by its gates).
 */
const maybeSendTimeoutNow = (core: RaftCore, resend: boolean): void => {
  const t = core.transfer
  if (t === undefined || core.role !== "Leader" || core.term !== t.term) return
  if (t.timeoutNowSent && !resend) return
  const pr = core.progress.get(t.target)
  if (pr === undefined || pr.match < core.log.lastIndex) return
  t.timeoutNowSent = true
  core.send(t.target, { _tag: "TimeoutNow", term: core.term })
}

/** A follower acknowledged entries: the target may now be caught up. */
export const onMatch = (core: RaftCore, from: NodeId): void => {
  if (core.transfer?.target === from) maybeSendTimeoutNow(core, false)
}

/** Heartbeat tick on the leader. */
export const onHeartbeat = (core: RaftCore): void => maybeSendTimeoutNow(core, true)

/** Timers: abandon a transfer whose window passed. */
export const onTick = (core: RaftCore): void => {
  const t = core.transfer
  if (t !== undefined && core.now >= t.deadline) abandon(core, "TimedOut")
}

/** The earliest time the transfer needs a tick (Infinity when none is pending). */
export const deadline = (core: RaftCore): number => core.transfer?.deadline ?? Infinity

/** `cancelTransfer`: a no-op when nothing is in flight. */
export const cancel = (core: RaftCore): void => {
  if (core.transfer !== undefined) abandon(core, "Cancelled")
}

/** The caller of `handle` gave up: a transfer it started is cancelled. */
export const cancelHandle = (core: RaftCore, handle: number): void => {
  if (core.transfer?.handle === handle) abandon(core, "Cancelled")
}

/** This node won an election while its transfer was pending: the target was never confirmed. */
export const onBecomeLeader = (core: RaftCore): void => {
  if (core.transfer !== undefined) abandon(core, "ReElected")
}

/** Fails the pending transfer; a node that still leads takes proposals again from now on. */
const abandon = (core: RaftCore, reason: "TimedOut" | "Cancelled" | "ReElected"): void => {
  const t = core.transfer!
  core.transfer = undefined
  core.trace({ _tag: "LeadershipTransferAbandoned", at: core.now, leader: core.id, target: t.target, reason })
  core.ready.resolutions.push({ handle: t.handle, outcome: { _tag: "TransferFailed", target: t.target, reason } })
}

/**
 * A leader-authored frame (AppendEntries or InstallSnapshot) from `from` at `term` was accepted.
 * From the target at a term above the transfer's, it proves the target leads: success.
 */
export const onLeaderContact = (core: RaftCore, from: NodeId, term: number): void => {
  const t = core.transfer
  if (t === undefined || from !== t.target || term <= t.term) return
  core.transfer = undefined
  core.ready.resolutions.push({ handle: t.handle, outcome: { _tag: "Transferred" } })
}

/**
 * The target's side: gates in the original's order, then an immediate election with
 * `leadershipTransfer` set (no PreVote: the leader itself asked for it).
 */
export const onTimeoutNow = (core: RaftCore, from: NodeId, m: TimeoutNow): void => {
  if (m.term < core.term) return core.refuse(from, "TimeoutNow", "TimeoutNowStaleTerm")
  if (core.role === "Leader" || core.role === "Candidate") {
    return core.refuse(from, "TimeoutNow", "TimeoutNowSelfLeaderOrCandidate")
  }
  // Only the leader of OUR term may hand over; a frame from a term we never saw proves nothing.
  if (m.term > core.term) return core.refuse(from, "TimeoutNow", "TimeoutNowFutureTerm")
  const pin = core.leaderForTerm
  if (pin === null || pin.term !== core.term || pin.leaderId !== from) {
    return core.refuse(from, "TimeoutNow", "TimeoutNowSenderNotEstablishedLeader")
  }
  if (!core.isVoter) return core.refuse(from, "TimeoutNow", "TimeoutNowSelfLearner")
  campaign(core, true)
}
