/**
 * Time in the core: the shell calls `tick` with its clock's time and asks `nextDeadline` when to
 * call next. A leader heartbeats (§5.2; each heartbeat is also a ReadIndex round) and checks its
 * quorum (thesis §6.2); a voter that hears from no leader times out and campaigns; a pending
 * leadership transfer times out (thesis §3.10). Election timeouts are drawn from the core's seeded
 * `Prng`, so a run is reproducible.
 */
import * as Elections from "./Elections.js"
import type { RaftCore } from "./RaftCore.js"
import * as Replication from "./Replication.js"
import * as Transfer from "./Transfer.js"

/** Fires every timer due at `core.now`. */
export const tick = (core: RaftCore): void => {
  const now = core.now
  Transfer.onTick(core)
  if (core.role === "Leader") {
    if (now >= core.heartbeatDeadline) {
      core.heartbeatDeadline = now + core.cfg.heartbeatInterval
      Replication.heartbeat(core)
    }
    if (now >= core.checkQuorumDeadline) Replication.checkQuorum(core)
  } else if (core.isVoter && now >= core.electionDeadline) {
    Elections.onElectionTimeout(core)
  }
}

/** The earliest time the shell must call `tick`. */
export const nextDeadline = (core: RaftCore): number => {
  const transfer = Transfer.deadline(core)
  if (core.role === "Leader") return Math.min(core.heartbeatDeadline, core.checkQuorumDeadline, transfer)
  // A learner (or a removed node) never campaigns: its election timer is no deadline, else the
  // shell would spin on a timer that `tick` never rearms.
  return Math.min(core.isVoter ? core.electionDeadline : Infinity, transfer)
}

/** A fresh randomized election timeout from now (§5.2). */
export const resetElectionTimer = (core: RaftCore): void => {
  core.electionDeadline = core.now + core.rng.between(core.cfg.electionTimeoutMin, core.cfg.electionTimeoutMax)
}
