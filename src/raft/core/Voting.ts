/**
 * The election steps (§5.2) with PreVote (thesis §9.6) and leader stickiness (§4.2.3): a timed-out
 * voter first asks, without bumping its term, whether a quorum WOULD vote for it; only then does
 * it persist term+1 and a vote for itself (`Roles.campaign`). Voters deny both kinds of vote while
 * they still hear from a live leader, so a partitioned node that comes back cannot depose a healthy
 * leader (B6). The rules themselves are in `Elections.ts`; this file asks, answers and counts.
 */
import { preVoteDenials, voteDenials } from "./Elections.js"
import type { NodeId } from "./Ids.js"
import type { PreVote, PreVoteResponse, RequestVote, RequestVoteResponse } from "./Messages.js"
import type { NodeState } from "./NodeState.js"
import { allVoters, hasQuorum } from "./Quorum.js"
import { adoptTerm, becomeFollower, becomeLeader, campaign, persistHardState, resetElectionTimer } from "./Roles.js"

/** The election timer fired on a voter that is not leader. */
export const onElectionTimeout = (s: NodeState): void => {
  s.leader = undefined
  s.metric({ _tag: "ElectionTimedOut", term: s.term })
  if (s.isSoleVoter) return campaign(s, false)
  startPreVote(s)
}

const startPreVote = (s: NodeState): void => {
  if (s.role === "Candidate") s.role = "Follower"
  s.votes.clear()
  const proposedTerm = s.term + 1
  const round = ++s.roundCounter
  s.preVote = { round, proposedTerm, granted: new Set([s.id]) }
  s.electionStartedAt = s.now
  resetElectionTimer(s)
  s.trace({ _tag: "PreVoteStarted", at: s.now, node: s.id, proposedTerm })
  for (const voter of allVoters(s.config)) {
    if (voter === s.id) continue
    s.send(voter, { _tag: "PreVote", term: proposedTerm, lastLogIndex: s.log.lastIndex, lastLogTerm: s.log.lastTerm, round })
  }
}

export const onPreVote = (s: NodeState, from: NodeId, m: PreVote): void => {
  const reasons = preVoteDenials(s.leaderAlive(), s.log, s.term, m)
  const granted = reasons.length === 0
  if (granted) {
    s.trace({ _tag: "PreVoteGranted", at: s.now, node: s.id, to: from, proposedTerm: m.term })
  } else {
    s.trace({ _tag: "PreVoteDenied", at: s.now, node: s.id, to: from, proposedTerm: m.term, reasons })
  }
  // A pre-vote changes nothing here: no term adoption, no vote recorded, no persistence.
  s.send(from, { _tag: "PreVoteResponse", term: s.term, voteGranted: granted, proposedTerm: m.term, round: m.round })
}

export const onPreVoteResponse = (s: NodeState, from: NodeId, m: PreVoteResponse): void => {
  const pv = s.preVote
  if (m.term > s.term && !m.voteGranted) {
    // The cluster moved on without us; catch up to its term so our next attempt can count.
    adoptTerm(s, m.term)
    becomeFollower(s, "HigherTermObserved", undefined)
    return
  }
  if (pv === undefined || m.round !== pv.round || m.proposedTerm !== pv.proposedTerm) return
  // Only a round for the term right after ours can justify an election at term + 1.
  if (pv.proposedTerm !== s.term + 1) return
  if (!m.voteGranted || !allVoters(s.config).has(from)) return
  pv.granted.add(from)
  if (hasQuorum(s.config, (id) => pv.granted.has(id))) campaign(s, false)
}

export const onRequestVote = (s: NodeState, from: NodeId, m: RequestVote): void => {
  if (m.term > s.term) {
    // Stickiness: while a leader is alive, a higher-term vote request is denied WITHOUT adopting
    // its term, so a disruptive node (rejoining, removed, partitioned) cannot force a step-down.
    if (s.leaderAlive() && !m.leadershipTransfer) {
      s.trace({ _tag: "VoteDenied", at: s.now, from: s.id, to: from, term: m.term, reasons: ["LeaderAlive"] })
      s.send(from, { _tag: "RequestVoteResponse", term: s.term, voteGranted: false })
      return
    }
    adoptTerm(s, m.term)
    if (s.role !== "Follower" && s.role !== "Learner") becomeFollower(s, "HigherTermObserved", undefined)
    else s.leader = undefined
  }
  const reasons = voteDenials(s.term, s.votedFor, s.log, from, m)
  const granted = reasons.length === 0
  if (granted) {
    if (s.votedFor !== from) {
      s.votedFor = from
      persistHardState(s)
    }
    // Granting a vote restarts our timer so we do not compete with the candidate (§5.2, Figure 2
    // "Followers": no election until a timeout passes without granting a vote); that includes a
    // pre-vote round of ours still collecting answers.
    s.preVote = undefined
    resetElectionTimer(s)
    s.trace({ _tag: "VoteGranted", at: s.now, from: s.id, to: from, term: s.term })
  } else {
    s.trace({ _tag: "VoteDenied", at: s.now, from: s.id, to: from, term: m.term, reasons })
  }
  s.send(from, { _tag: "RequestVoteResponse", term: s.term, voteGranted: granted })
}

export const onRequestVoteResponse = (s: NodeState, from: NodeId, m: RequestVoteResponse): void => {
  if (m.term > s.term) {
    adoptTerm(s, m.term)
    becomeFollower(s, "HigherTermObserved", undefined)
    return
  }
  if (s.role !== "Candidate" || m.term !== s.term || !m.voteGranted) return
  if (!allVoters(s.config).has(from)) return
  s.votes.add(from)
  if (hasQuorum(s.config, (id) => s.votes.has(id))) becomeLeader(s)
}
