/**
 * What every leader-authored frame (AppendEntries, InstallSnapshot) goes through before its body
 * is looked at: the §5.1 term rule, the one-leader-per-term pin, and — once accepted — the
 * follower-side effects of hearing from a live leader (term adoption, the pin, stepping down from
 * candidacy, the stickiness lease of thesis §4.2.3, the election timer).
 *
 * Split in two so a handler can run its own "would this frame contradict what I know is
 * committed?" check between them: a refused frame must not move our term, pin or lease.
 */
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftCore } from "./RaftCore.js"
import { adoptTerm, becomeFollower } from "./Roles.js"
import { resetElectionTimer } from "./Timers.js"
import * as Transfer from "./Transfer.js"

/** Which leader-authored frame is being checked (for refusal traces). */
export type LeaderFrameType = "AppendEntries" | "InstallSnapshot"

/**
 * `Stale`: the frame's term is below ours; answer with our term (rule 1) and change nothing.
 * `Refused`: it claims a term that already has another leader (traced as `ForgedLeaderForTerm`).
 * `Accept`: go on, then call `acceptLeaderContact`.
 */
export type LeaderFrameVerdict = "Stale" | "Refused" | "Accept"

/** Checks a frame's claim to come from the leader of `term`; refusals are traced here. */
export const checkLeaderFrame = (core: RaftCore, from: NodeId, term: number, type: LeaderFrameType): LeaderFrameVerdict => {
  if (term < core.term) return "Stale"
  if (term === core.term && core.role === "Leader") {
    // Two leaders in one term is impossible among correct nodes: refuse, never obey.
    core.refuse(from, type, "ForgedLeaderForTerm")
    return "Refused"
  }
  if (core.leaderForTerm !== null && core.leaderForTerm.term === term && core.leaderForTerm.leaderId !== from) {
    core.refuse(from, type, "ForgedLeaderForTerm")
    return "Refused"
  }
  return "Accept"
}

/** Records contact from `from`, the leader of `term` (which `checkLeaderFrame` accepted). */
export const acceptLeaderContact = (core: RaftCore, from: NodeId, term: number): void => {
  if (term > core.term) adoptTerm(core, term)
  if (core.leaderForTerm === null || core.leaderForTerm.term !== term) {
    core.leaderForTerm = { term, leaderId: from }
    core.ready.persist.leaderForTerm = core.leaderForTerm
  }
  if (core.role === "Candidate" || core.preVote !== undefined || core.leader !== from) {
    becomeFollower(core, "AppendEntriesFromLeader", from)
  }
  core.leader = from
  core.leaderContactAt = core.now
  core.wedge.refusedRun = 0
  resetElectionTimer(core)
  // A leader-authored frame from a transfer's target at a newer term completes it (thesis §3.10).
  Transfer.onLeaderContact(core, from, term)
}
