/**
 * Role transitions shared by every decision module: adopting a newer term (§5.1), stepping down
 * to follower (or learner), and taking office as leader (§5.2, §5.4.2).
 */
import type { NodeId } from "./Ids.js"
import type { RaftRole } from "./Tuning.js"
import type { StepDownReason } from "./Events.js"
import * as DedupCache from "./DedupCache.js"
import { appendLocal } from "./LocalLog.js"
import { Progress } from "./Progress.js"
import { allReplicas } from "./Quorum.js"
import type { RaftCore } from "./RaftCore.js"
import * as Replication from "./Replication.js"
import { resetElectionTimer } from "./Timers.js"
import * as Transfer from "./Transfer.js"

/** Adopts a newer term: clears the vote, persists both atomically. */
export const adoptTerm = (core: RaftCore, term: number): void => {
  if (term <= core.term) return
  core.term = term
  core.votedFor = null
  // A pre-vote round asked for the term after the one it started in; once our term moves it is
  // stale, and late grants for it must not start a real election (which would bump past a term
  // we may just have voted in, deposing its fresh leader — the disruption PreVote exists to
  // prevent, thesis §9.6).
  core.preVote = undefined
  persistHardState(core)
}

/** Term and vote go to storage together, in this turn's batch. */
export const persistHardState = (core: RaftCore): void => {
  core.ready.persist.hardState = { term: core.term, votedFor: core.votedFor }
}

/** Leaves Leader/Candidate (or a pre-vote) and becomes a follower (or learner) of `leader`. */
export const becomeFollower = (core: RaftCore, reason: StepDownReason, leader: NodeId | undefined): void => {
  const wasLeader = core.role === "Leader"
  if (wasLeader) Replication.abandonLeadership(core, reason)
  core.preVote = undefined
  core.votes.clear()
  const role: RaftRole = core.isVoter ? "Follower" : "Learner"
  if (core.role !== role || wasLeader) {
    core.trace({ _tag: "BecomeFollower", at: core.now, node: core.id, term: core.term, reason })
  }
  core.role = role
  core.leader = leader
  core.heartbeatDeadline = Infinity
  core.checkQuorumDeadline = Infinity
  resetElectionTimer(core)
}

/** Takes office: fresh progress for every replica, the leader-for-term record, and a no-op. */
export const becomeLeader = (core: RaftCore): void => {
  core.role = "Leader"
  core.leader = core.id
  core.preVote = undefined
  core.votes.clear()
  core.progress.clear()
  const next = core.log.lastIndex + 1
  for (const peer of allReplicas(core.config)) if (peer !== core.id) core.progress.set(peer, new Progress(next))
  core.trace({ _tag: "BecomeLeader", at: core.now, node: core.id, term: core.term })
  core.metric({ _tag: "ElectionWon", term: core.term, elapsedMs: core.now - core.electionStartedAt })
  core.leaderForTerm = { term: core.term, leaderId: core.id }
  core.ready.persist.leaderForTerm = core.leaderForTerm
  // §5.4.2 / thesis §6.4: commit an entry of our own term before anything else counts.
  appendLocal(core, { _tag: "NoOp", index: core.log.lastIndex + 1, term: core.term })
  core.heartbeatDeadline = core.now + core.cfg.heartbeatInterval
  core.checkQuorumDeadline = core.now + core.rng.between(core.cfg.electionTimeoutMin, core.cfg.electionTimeoutMax)
  core.electionDeadline = Infinity
  DedupCache.onBecomeLeader(core)
  Transfer.onBecomeLeader(core)
}
