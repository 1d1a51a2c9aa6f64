/**
 * Seeing a wedge: a node that cannot make progress although the cluster does says so, once per
 * episode (`WedgeSuspected` metric and trace event; the shell also logs a warning and shows it in
 * the node's health). Two rules, both cheap enough for every turn:
 *
 * - `RefusedLeaderFrames` (the original library's rule): 64 consecutive leader frames at a term
 *   at least ours were refused at the dispatch boundary while our commit index did not move — a
 *   leader keeps talking to us and we cannot accept it (typically a member that missed the change
 *   adding that leader, with nobody left to vouch for it; see `Trust.ts`).
 * - `NotApplying`: we follow a leader whose commit index (from its frames) is above the index we
 *   handed to the consumer, and that index has not moved for `wedgeSuspicionAfter` ms.
 *
 * The suspicion clears when the applied index moves again.
 */
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftMetric, RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { WedgeReason } from "../../../services/raft/RaftTrace.js"
import type { RaftCore } from "./RaftCore.js"

/** Consecutive refused leader frames that make a wedge suspect (the original's threshold). */
export const WEDGE_RUN = 64

/** A wedge this node suspects (shown in its health until the applied index moves). */
export interface Suspicion {
  readonly reason: WedgeReason
  readonly since: number
  readonly leader: NodeId | undefined
  readonly leaderTerm: number
}

export class WedgeState {
  /** Leader frames refused in a row while the commit index stayed at `runCommit`. */
  refusedRun = 0
  runCommit = 0
  /** The highest commit index a leader we follow reported. */
  leaderCommit = 0
  /** The applied (emitted) index as last seen, and when it last moved. */
  applied = 0
  appliedAt: number
  /** When the leader's commit index went above our applied index without it moving since. */
  lagSince: number | undefined = undefined
  suspected: Suspicion | undefined = undefined

  constructor(now: number) {
    this.appliedAt = now
  }
}

const suspect = (core: RaftCore, reason: WedgeReason, leader: NodeId | undefined, leaderTerm: number): void => {
  const w = core.wedge
  if (w.suspected !== undefined) return
  w.suspected = { reason, since: core.now, leader, leaderTerm }
  const fields = { reason, leader, leaderTerm, term: core.term, commitIndex: core.commitIndex, appliedIndex: core.lastEmitted }
  core.metric(RaftMetric.WedgeSuspected(fields))
  core.trace(RaftTraceEvent.WedgeSuspected({ at: core.now, node: core.id, ...fields }))
}

/** A leader frame at a term at least ours was refused at the dispatch boundary. */
export const onRefusedLeaderFrame = (core: RaftCore, from: NodeId, term: number): void => {
  const w = core.wedge
  if (w.runCommit !== core.commitIndex) {
    w.runCommit = core.commitIndex
    w.refusedRun = 0
  }
  if (++w.refusedRun >= WEDGE_RUN) suspect(core, "RefusedLeaderFrames", from, term)
}

/** A leader frame was accepted: the refused run ends; `leaderCommit` is what it reported. */
export const onLeaderFrameAccepted = (core: RaftCore, leaderCommit: number): void => {
  const w = core.wedge
  w.refusedRun = 0
  if (leaderCommit > w.leaderCommit) w.leaderCommit = leaderCommit
}

/** End of a turn: note applied progress, clear a suspicion it ends, check `NotApplying`. */
export const onTurnEnd = (core: RaftCore): void => {
  const w = core.wedge
  const applied = core.lastEmitted
  if (applied !== w.applied) {
    w.applied = applied
    w.appliedAt = core.now
    w.lagSince = undefined
    if (w.suspected !== undefined) {
      w.suspected = undefined
      core.trace(RaftTraceEvent.WedgeCleared({ at: core.now, node: core.id, appliedIndex: applied }))
    }
  }
  if (core.role === "Leader" || core.leader === undefined || w.leaderCommit <= applied) {
    w.lagSince = undefined
    return
  }
  if (w.lagSince === undefined) w.lagSince = core.now
  else if (core.now - w.lagSince >= core.cfg.wedgeSuspicionAfter) suspect(core, "NotApplying", core.leader, core.term)
}
