/**
 * Leader election (§5.2) with PreVote (thesis §9.6) and leader stickiness (§4.2.3).
 *
 * A timed-out voter first asks, without bumping its term, whether a quorum WOULD vote for it; only
 * then does it persist term+1 and a vote for itself. Voters deny both kinds of vote while they
 * still hear from a live leader, so a partitioned node that comes back cannot depose a healthy
 * leader (B6). Every denial lists all failing conjuncts.
 */
import type { PreVote, PreVoteResponse, RequestVote, RequestVoteResponse } from "../../codec/raft/RaftMessage.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftMetric, RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { DenyReason } from "../../../services/raft/RaftTrace.js"
import { allVoters, hasQuorum } from "./Quorum.js"
import type { RaftCore } from "./RaftCore.js"
import { adoptTerm, becomeFollower, becomeLeader, persistHardState } from "./Roles.js"
import { resetElectionTimer } from "./Timers.js"

/** The election timer fired on a voter that is not leader. */
export const onElectionTimeout = (core: RaftCore): void => {
  core.leader = undefined
  core.metric(RaftMetric.ElectionTimedOut({ term: core.term }))
  if (core.isSoleVoter) return campaign(core, false)
  startPreVote(core)
}

const startPreVote = (core: RaftCore): void => {
  if (core.role === "Candidate") core.role = "Follower"
  core.votes.clear()
  const proposedTerm = core.term + 1
  const round = ++core.roundCounter
  core.preVote = { round, proposedTerm, granted: new Set([core.id]) }
  core.electionStartedAt = core.now
  resetElectionTimer(core)
  core.trace(RaftTraceEvent.PreVoteStarted({ at: core.now, node: core.id, proposedTerm }))
  for (const voter of allVoters(core.config)) {
    if (voter === core.id) continue
    core.send(voter, {
      _tag: "PreVote",
      term: proposedTerm,
      lastLogIndex: core.log.lastIndex,
      lastLogTerm: core.log.lastTerm,
      round
    })
  }
}

/** A real election: persist term+1 and our own vote, then ask every voter. */
export const campaign = (core: RaftCore, leadershipTransfer: boolean): void => {
  core.preVote = undefined
  core.term += 1
  core.votedFor = core.id
  persistHardState(core)
  core.role = "Candidate"
  core.leader = undefined
  core.votes = new Set([core.id])
  if (core.electionStartedAt === 0 || !leadershipTransfer) core.electionStartedAt = core.now
  resetElectionTimer(core)
  core.trace(RaftTraceEvent.Timeout({ at: core.now, node: core.id, newTerm: core.term }))
  core.metric(RaftMetric.ElectionStarted({ term: core.term }))
  if (hasQuorum(core.config, (id) => core.votes.has(id))) return becomeLeader(core)
  for (const voter of allVoters(core.config)) {
    if (voter === core.id) continue
    core.trace(RaftTraceEvent.RequestVote({
      at: core.now,
      from: core.id,
      to: voter,
      term: core.term,
      lastLogIndex: core.log.lastIndex,
      lastLogTerm: core.log.lastTerm
    }))
    core.send(voter, {
      _tag: "RequestVote",
      term: core.term,
      lastLogIndex: core.log.lastIndex,
      lastLogTerm: core.log.lastTerm,
      leadershipTransfer
    })
  }
}

export const onPreVote = (core: RaftCore, from: NodeId, m: PreVote): void => {
  // Order as in the original: LeaderAlive, LogNotUpToDate, StaleTerm.
  const reasons: Array<DenyReason> = []
  if (core.leaderAlive()) reasons.push("LeaderAlive")
  if (!core.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) reasons.push("LogNotUpToDate")
  if (m.term <= core.term) reasons.push("StaleTerm")
  const granted = reasons.length === 0
  if (granted) {
    core.trace(RaftTraceEvent.PreVoteGranted({ at: core.now, node: core.id, to: from, proposedTerm: m.term }))
  } else {
    core.trace(RaftTraceEvent.PreVoteDenied({ at: core.now, node: core.id, to: from, proposedTerm: m.term, reasons }))
  }
  // A pre-vote changes nothing here: no term adoption, no vote recorded, no persistence.
  core.send(from, { _tag: "PreVoteResponse", term: core.term, voteGranted: granted, proposedTerm: m.term, round: m.round })
}

export const onPreVoteResponse = (core: RaftCore, from: NodeId, m: PreVoteResponse): void => {
  const pv = core.preVote
  if (m.term > core.term && !m.voteGranted) {
    // The cluster moved on without us; catch up to its term so our next attempt can count.
    adoptTerm(core, m.term)
    becomeFollower(core, "HigherTermObserved", undefined)
    return
  }
  if (pv === undefined || m.round !== pv.round || m.proposedTerm !== pv.proposedTerm) return
  // Only a round for the term right after ours can justify an election at term + 1.
  if (pv.proposedTerm !== core.term + 1) return
  if (!m.voteGranted || !allVoters(core.config).has(from)) return
  pv.granted.add(from)
  if (hasQuorum(core.config, (id) => pv.granted.has(id))) campaign(core, false)
}

export const onRequestVote = (core: RaftCore, from: NodeId, m: RequestVote): void => {
  if (m.term > core.term) {
    // Stickiness: while a leader is alive, a higher-term vote request is denied WITHOUT adopting
    // its term, so a disruptive node (rejoining, removed, partitioned) cannot force a step-down.
    if (core.leaderAlive() && !m.leadershipTransfer) {
      core.trace(RaftTraceEvent.VoteDenied({ at: core.now, from: core.id, to: from, term: m.term, reasons: ["LeaderAlive"] }))
      core.send(from, { _tag: "RequestVoteResponse", term: core.term, voteGranted: false })
      return
    }
    adoptTerm(core, m.term)
    if (core.role !== "Follower" && core.role !== "Learner") becomeFollower(core, "HigherTermObserved", undefined)
    else core.leader = undefined
  }
  // Order as in the original: StaleTerm, AlreadyVoted, LogNotUpToDate.
  const reasons: Array<DenyReason> = []
  if (m.term < core.term) reasons.push("StaleTerm")
  if (core.votedFor !== null && core.votedFor !== from) reasons.push("AlreadyVoted")
  if (!core.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) reasons.push("LogNotUpToDate")
  const granted = reasons.length === 0
  if (granted) {
    if (core.votedFor !== from) {
      core.votedFor = from
      persistHardState(core)
    }
    // Granting a vote restarts our timer so we do not compete with the candidate (§5.2, Figure 2
    // "Followers": no election until a timeout passes without granting a vote); that includes a
    // pre-vote round of ours still collecting answers.
    core.preVote = undefined
    resetElectionTimer(core)
    core.trace(RaftTraceEvent.VoteGranted({ at: core.now, from: core.id, to: from, term: core.term }))
  } else {
    core.trace(RaftTraceEvent.VoteDenied({ at: core.now, from: core.id, to: from, term: m.term, reasons }))
  }
  core.send(from, { _tag: "RequestVoteResponse", term: core.term, voteGranted: granted })
}

export const onRequestVoteResponse = (core: RaftCore, from: NodeId, m: RequestVoteResponse): void => {
  if (m.term > core.term) {
    adoptTerm(core, m.term)
    becomeFollower(core, "HigherTermObserved", undefined)
    return
  }
  if (core.role !== "Candidate" || m.term !== core.term || !m.voteGranted) return
  if (!allVoters(core.config).has(from)) return
  core.votes.add(from)
  if (hasQuorum(core.config, (id) => core.votes.has(id))) becomeLeader(core)
}
