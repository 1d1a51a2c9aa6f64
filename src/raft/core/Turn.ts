/**
 * The end of a turn (`RaftCore.takeReady`): the bookkeeping that batches a turn's work — a
 * membership change's next step, forwards stranded and proposals parked, the turn's read round,
 * one replication of everything appended, the consumer's newly committed entries, and the
 * wedge check — applied to the node's state before its `Ready` is handed over.
 */
import * as DedupCache from "./DedupCache.js"
import { heartbeat, maybeCommit, replicateAll } from "./Leader.js"
import { appendLocal, emitCommitted } from "./LocalLog.js"
import type { NodeState } from "./NodeState.js"
import { failStranded, flushParked } from "./Proposals.js"
import { flushReads } from "./Requests.js"
import { becomeFollower } from "./Roles.js"

/** Everything a turn defers to its end, in order. */
export const endTurn = (s: NodeState): void => {
  membershipTurnEnd(s)
  failStranded(s)
  flushParked(s)
  flushReads(s)
  if (s.role === "Leader" && s.dirty) {
    s.dirty = false
    replicateAll(s)
  }
  if (s.role === "Leader" && s.isSoleVoter) maybeCommit(s)
  emitCommitted(s)
  // Latch the point from which our client id's history is known (collision evidence after it).
  if (s.collisions.knownThrough === undefined) DedupCache.historyKnown(s.collisions, s)
  wedgeTurnEnd(s)
}

/**
 * Before the turn's appends are replicated: completes a committed joint configuration (§6: once
 * C_old,new commits, the leader appends C_new), resolves a finished change, and steps down a
 * leader the final configuration left out (thesis §4.2.2). Also fails a pending change whose
 * leader lost its term.
 */
const membershipTurnEnd = (s: NodeState): void => {
  const pending = s.membershipChange
  if (pending !== undefined && (s.role !== "Leader" || s.term !== pending.term)) {
    s.membershipChange = undefined
    s.ready.membership.push({
      handle: pending.handle,
      outcome: { _tag: "LeadershipLost", reason: "leadership was lost before the membership change committed" }
    })
  }
  if (s.role !== "Leader") return
  if (s.config.old !== undefined && s.configIndex <= s.commitIndex) {
    const index = s.log.lastIndex + 1
    appendLocal(s, { _tag: "Config", index, term: s.term, config: { new: s.config.new } })
    if (s.membershipChange !== undefined) s.membershipChange.finalIndex = index
  }
  const p = s.membershipChange
  if (p !== undefined && p.finalIndex !== undefined && p.finalIndex <= s.commitIndex) {
    s.membershipChange = undefined
    s.ready.membership.push({ handle: p.handle, outcome: { _tag: "Changed", config: p.target } })
  }
  if (s.config.old === undefined && s.configIndex <= s.commitIndex && !s.config.new.voters.has(s.id)) {
    // Thesis §4.2.2: tell the followers the final entry committed, then leave.
    heartbeat(s)
    becomeFollower(s, "RemovedFromConfig", undefined)
  }
}

/** Notes applied progress, reports a wedge that cleared, and checks `NotApplying` (`Wedge.ts`). */
const wedgeTurnEnd = (s: NodeState): void => {
  const following = s.role !== "Leader" && s.leader !== undefined
  switch (s.wedge.turnEnd(s.now, s.lastEmitted, following, s.cfg.wedgeSuspicionAfter)) {
    case undefined:
      return
    case "Cleared":
      s.trace({ _tag: "WedgeCleared", at: s.now, node: s.id, appliedIndex: s.lastEmitted })
      return
    case "NotApplying":
      s.suspectWedge("NotApplying", s.leader, s.term)
      return
  }
}
