/**
 * The vote rules of leader election (§5.2, §5.4.1) with PreVote (thesis §9.6) and leader
 * stickiness (§4.2.3): whether a (pre-)vote is granted, with every failing conjunct listed.
 *
 * A leaf: plain functions of what a voter knows; the node (`Voting`, `Roles`) asks, answers,
 * counts and campaigns.
 */
import type { DenyReason } from "./Events.js"
import type { NodeId } from "./Ids.js"
import type { PreVote, RequestVote } from "./Messages.js"
import type { RaftLog } from "./RaftLog.js"

/**
 * Why a pre-vote for `m` is denied (empty: granted), in the original's order: a live leader, a
 * log less up to date than ours, a proposed term not above ours. A pre-vote changes nothing.
 */
export const preVoteDenials = (leaderAlive: boolean, log: RaftLog, term: number, m: PreVote): Array<DenyReason> => {
  const reasons: Array<DenyReason> = []
  if (leaderAlive) reasons.push("LeaderAlive")
  if (!log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) reasons.push("LogNotUpToDate")
  if (m.term <= term) reasons.push("StaleTerm")
  return reasons
}

/**
 * Why a vote for `from`'s request `m` is denied at our (already adopted) `term` (empty: granted),
 * in the original's order: a stale term, a vote already given to another, a log less up to date.
 */
export const voteDenials = (term: number, votedFor: NodeId | null, log: RaftLog, from: NodeId, m: RequestVote): Array<DenyReason> => {
  const reasons: Array<DenyReason> = []
  if (m.term < term) reasons.push("StaleTerm")
  if (votedFor !== null && votedFor !== from) reasons.push("AlreadyVoted")
  if (!log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) reasons.push("LogNotUpToDate")
  return reasons
}
