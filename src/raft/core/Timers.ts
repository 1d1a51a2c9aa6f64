/**
 * Time in the core: the shell calls `tick` with its clock's time and asks `nextDeadline` when to
 * call next. A leader heartbeats (§5.2; each heartbeat is also a ReadIndex round) and checks its
 * quorum (thesis §6.2); a voter that hears from no leader times out and campaigns; a pending
 * leadership transfer times out (thesis §3.10). Election timeouts are drawn from the core's seeded
 * `Prng`, so a run is reproducible.
 */
import { checkQuorum, heartbeat } from "./Leader.js"
import type { NodeState } from "./NodeState.js"
import { abandonTransfer } from "./Roles.js"
import { onElectionTimeout } from "./Voting.js"

/** Fires every timer due at `s.now`. */
export const tick = (s: NodeState): void => {
  const now = s.now
  if (s.transfer !== undefined && now >= s.transfer.deadline) abandonTransfer(s, "TimedOut")
  if (s.role === "Leader") {
    if (now >= s.heartbeatDeadline) {
      s.heartbeatDeadline = now + s.cfg.heartbeatInterval
      heartbeat(s)
    }
    if (now >= s.checkQuorumDeadline) checkQuorum(s)
  } else if (s.isVoter && now >= s.electionDeadline) {
    onElectionTimeout(s)
  }
}

/** The earliest time the shell must call `tick`. */
export const nextDeadline = (s: NodeState): number => {
  const transfer = s.transfer?.deadline ?? Infinity
  if (s.role === "Leader") return Math.min(s.heartbeatDeadline, s.checkQuorumDeadline, transfer)
  // A learner (or a removed node) never campaigns: its election timer is no deadline, else the
  // shell would spin on a timer that `tick` never rearms.
  return Math.min(s.isVoter ? s.electionDeadline : Infinity, transfer)
}
