/**
 * Role transitions, applied to the node's state: adopting a newer term (§5.1), stepping down to
 * follower (or learner), campaigning (§5.2) and taking office as leader (§5.2, §5.4.2). Leaving
 * leadership answers everyone who waited on it; winning it abandons a transfer that was pending.
 * The lowest of the node's steps: every other step may call these, these call only leaves.
 */
import * as DedupCache from "./DedupCache.js"
import type { StepDownReason } from "./Events.js"
import type { NodeId } from "./Ids.js"
import type { NodeState } from "./NodeState.js"
import { Progress } from "./Progress.js"
import { allReplicas, allVoters, hasQuorum } from "./Quorum.js"
import type { RaftRole } from "./Tuning.js"

/** A fresh randomized election timeout from now (§5.2). */
export const resetElectionTimer = (s: NodeState): void => {
  s.electionDeadline = s.now + s.rng.between(s.cfg.electionTimeoutMin, s.cfg.electionTimeoutMax)
}

/** Term and vote go to storage together, in this turn's batch. */
export const persistHardState = (s: NodeState): void => {
  s.ready.persist.hardState = { term: s.term, votedFor: s.votedFor }
}

/** Adopts a newer term: clears the vote, persists both atomically. */
export const adoptTerm = (s: NodeState, term: number): void => {
  if (term <= s.term) return
  s.term = term
  s.votedFor = null
  // A pre-vote round asked for the term after the one it started in; once our term moves it is
  // stale, and late grants for it must not start a real election (which would bump past a term
  // we may just have voted in, deposing its fresh leader — the disruption PreVote exists to
  // prevent, thesis §9.6).
  s.preVote = undefined
  persistHardState(s)
}

/** Leaves Leader/Candidate (or a pre-vote) and becomes a follower (or learner) of `leader`. */
export const becomeFollower = (s: NodeState, reason: StepDownReason, leader: NodeId | undefined): void => {
  const wasLeader = s.role === "Leader"
  if (wasLeader) abandonLeadership(s, reason)
  s.preVote = undefined
  s.votes.clear()
  const role: RaftRole = s.isVoter ? "Follower" : "Learner"
  if (s.role !== role || wasLeader) {
    s.trace({ _tag: "BecomeFollower", at: s.now, node: s.id, term: s.term, reason })
  }
  s.role = role
  s.leader = leader
  s.heartbeatDeadline = Infinity
  s.checkQuorumDeadline = Infinity
  resetElectionTimer(s)
}

/** Leaving leadership: every in-flight proposal and queued read learns it may not complete through us. */
const abandonLeadership = (s: NodeState, reason: StepDownReason): void => {
  const why = `leader stepped down (${reason})`
  for (const [, handle] of s.pendingLocal) {
    s.ready.resolutions.push({ handle, outcome: { _tag: "LeadershipLost", reason: why } })
  }
  s.pendingLocal.clear()
  for (const [, f] of s.pendingForwarded) {
    s.send(f.from, { _tag: "ForwardResponse", clientRequestId: f.clientRequestId, outcome: { _tag: "NotLeader" } })
  }
  s.pendingForwarded.clear()
  for (const origin of s.reads.abandon()) {
    switch (origin._tag) {
      case "Local":
        s.ready.resolutions.push({ handle: origin.handle, outcome: { _tag: "LeadershipLost", reason: why } })
        break
      case "Remote":
        s.send(origin.from, { _tag: "ReadIndexResponse", requestId: origin.requestId, outcome: { _tag: "NotLeader" } })
        break
    }
  }
  for (const origin of DedupCache.abandon(s.dedup)) {
    if ("local" in origin) {
      s.ready.resolutions.push({ handle: origin.local, outcome: { _tag: "LeadershipLost", reason: why } })
    } else {
      s.send(origin.from, { _tag: "ForwardResponse", clientRequestId: origin.clientRequestId, outcome: { _tag: "NotLeader" } })
    }
  }
  s.progress.clear()
  s.dirty = false
}

/** A real election: persist term+1 and our own vote, then ask every voter (§5.2). */
export const campaign = (s: NodeState, leadershipTransfer: boolean): void => {
  s.preVote = undefined
  s.term += 1
  s.votedFor = s.id
  persistHardState(s)
  s.role = "Candidate"
  s.leader = undefined
  s.votes = new Set([s.id])
  if (s.electionStartedAt === 0 || !leadershipTransfer) s.electionStartedAt = s.now
  resetElectionTimer(s)
  s.trace({ _tag: "Timeout", at: s.now, node: s.id, newTerm: s.term })
  s.metric({ _tag: "ElectionStarted", term: s.term })
  if (hasQuorum(s.config, (id) => s.votes.has(id))) return becomeLeader(s)
  for (const voter of allVoters(s.config)) {
    if (voter === s.id) continue
    s.trace({
      _tag: "RequestVote",
      at: s.now,
      from: s.id,
      to: voter,
      term: s.term,
      lastLogIndex: s.log.lastIndex,
      lastLogTerm: s.log.lastTerm
    })
    s.send(voter, {
      _tag: "RequestVote",
      term: s.term,
      lastLogIndex: s.log.lastIndex,
      lastLogTerm: s.log.lastTerm,
      leadershipTransfer
    })
  }
}

/** Takes office: fresh progress for every replica, the leader-for-term record, and a no-op. */
export const becomeLeader = (s: NodeState): void => {
  s.role = "Leader"
  s.leader = s.id
  s.preVote = undefined
  s.votes.clear()
  s.progress.clear()
  const next = s.log.lastIndex + 1
  for (const peer of allReplicas(s.config)) if (peer !== s.id) s.progress.set(peer, new Progress(next))
  s.trace({ _tag: "BecomeLeader", at: s.now, node: s.id, term: s.term })
  s.metric({ _tag: "ElectionWon", term: s.term, elapsedMs: s.now - s.electionStartedAt })
  s.leaderForTerm = { term: s.term, leaderId: s.id }
  s.ready.persist.leaderForTerm = s.leaderForTerm
  // §5.4.2 / thesis §6.4: commit an entry of our own term before anything else counts. (A no-op
  // carries no configuration: appended as it is, replicated at the end of the turn.)
  const noOp = { _tag: "NoOp", index: s.log.lastIndex + 1, term: s.term } as const
  s.log.appendOne(noOp)
  s.ready.persist.append.push(noOp)
  s.dirty = true
  s.heartbeatDeadline = s.now + s.cfg.heartbeatInterval
  s.checkQuorumDeadline = s.now + s.rng.between(s.cfg.electionTimeoutMin, s.cfg.electionTimeoutMax)
  s.electionDeadline = Infinity
  DedupCache.onBecomeLeader(s.dedup, s.log, s.commitIndex)
  // Elected while our own transfer was pending: the target was never confirmed.
  if (s.transfer !== undefined) abandonTransfer(s, "ReElected")
}

/** Fails the pending transfer; a node that still leads takes proposals again from now on. */
export const abandonTransfer = (s: NodeState, reason: "TimedOut" | "Cancelled" | "ReElected"): void => {
  const t = s.transfer!
  s.transfer = undefined
  s.trace({ _tag: "LeadershipTransferAbandoned", at: s.now, leader: s.id, target: t.target, reason })
  s.ready.resolutions.push({ handle: t.handle, outcome: { _tag: "TransferFailed", target: t.target, reason } })
}
