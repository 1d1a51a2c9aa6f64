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
 *
 * A leaf: the transfer's record and the rules about it; the node (`Requests`, `Leader`, `Follower`,
 * `Roles`, `Timers`) starts, completes and abandons it.
 */
import type { DurableState } from "./Durable.js"
import type { ConfigPayload } from "./Entries.js"
import type { RefusalGate } from "./Events.js"
import type { NodeId } from "./Ids.js"
import type { TimeoutNow } from "./Messages.js"
import type { Progress } from "./Progress.js"
import { allVoters } from "./Quorum.js"
import type { RaftRole } from "./Tuning.js"

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

/** Whether `target` cannot receive leadership from `self` under `config` (itself, or not a voter). */
export const invalidTarget = (config: ConfigPayload, self: NodeId, target: NodeId): boolean =>
  target === self || !allVoters(config).has(target)

/**
 * Whether a transfer must wait for a membership change: one is pending, the configuration is joint,
 * or its entry is uncommitted (the target's configuration could differ from ours; the original refuses too).
 */
export const blockedByMembership = (pendingChange: unknown, config: ConfigPayload, configIndex: number, commitIndex: number): boolean =>
  pendingChange !== undefined || config.old !== undefined || configIndex > commitIndex

/**
 * Whether to send `TimeoutNow` now: the transfer is ours at `term`, the target (`pr`) holds our
 * whole log (`lastIndex`), and it was not sent yet — unless `resend` (a heartbeat repeats it in case
 * the first was lost; a target that already campaigns refuses the duplicate by its gates).
 */
export const timeoutNowDue = (
  t: PendingTransfer | undefined,
  role: RaftRole,
  term: number,
  pr: Progress | undefined,
  lastIndex: number,
  resend: boolean
): t is PendingTransfer => {
  if (t === undefined || role !== "Leader" || term !== t.term) return false
  if (t.timeoutNowSent && !resend) return false
  return pr !== undefined && pr.match >= lastIndex
}

/** What the target's gates read of it. */
export interface TargetView {
  readonly term: number
  readonly role: RaftRole
  readonly leaderForTerm: DurableState["leaderForTerm"]
  readonly isVoter: boolean
}

/**
 * The target's gates for `TimeoutNow` from `from`, in the original's order; `undefined` = campaign
 * now. Only the leader of OUR term may hand over: a frame from a term we never saw proves nothing.
 */
export const timeoutNowRefusal = (node: TargetView, from: NodeId, m: TimeoutNow): RefusalGate | undefined => {
  if (m.term < node.term) return "TimeoutNowStaleTerm"
  if (node.role === "Leader" || node.role === "Candidate") return "TimeoutNowSelfLeaderOrCandidate"
  if (m.term > node.term) return "TimeoutNowFutureTerm"
  const pin = node.leaderForTerm
  if (pin === null || pin.term !== node.term || pin.leaderId !== from) return "TimeoutNowSenderNotEstablishedLeader"
  if (!node.isVoter) return "TimeoutNowSelfLearner"
  return undefined
}
