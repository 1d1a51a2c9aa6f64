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
 *
 * A leaf: `WedgeState` counts and decides; the node (`Dispatch`, `Follower`, `Turn`) reports.
 */
import type { WedgeReason } from "./Events.js"
import type { NodeId } from "./Ids.js"

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

  /** A leader frame at a term at least ours was refused at the dispatch boundary; true when the run makes a wedge suspect. */
  refused(commitIndex: number): boolean {
    if (this.runCommit !== commitIndex) {
      this.runCommit = commitIndex
      this.refusedRun = 0
    }
    return ++this.refusedRun >= WEDGE_RUN
  }

  /** A leader frame was accepted: the refused run ends. */
  contact(): void {
    this.refusedRun = 0
  }

  /** A leader frame was accepted: the refused run ends; `leaderCommit` is what it reported. */
  accepted(leaderCommit: number): void {
    this.refusedRun = 0
    if (leaderCommit > this.leaderCommit) this.leaderCommit = leaderCommit
  }

  /** Records a suspicion; false when one is already held (reported once per episode). */
  suspect(reason: WedgeReason, now: number, leader: NodeId | undefined, leaderTerm: number): boolean {
    if (this.suspected !== undefined) return false
    this.suspected = { reason, since: now, leader, leaderTerm }
    return true
  }

  /**
   * End of a turn at `now` with `applied` handed to the consumer; `following`: we follow a known
   * leader (not leading). `Cleared`: a held suspicion ended (applied moved). `NotApplying`: the
   * leader's commit index stayed above `applied` for `after` ms (call `suspect`).
   */
  turnEnd(now: number, applied: number, following: boolean, after: number): "Cleared" | "NotApplying" | undefined {
    let cleared = false
    if (applied !== this.applied) {
      this.applied = applied
      this.appliedAt = now
      this.lagSince = undefined
      if (this.suspected !== undefined) {
        this.suspected = undefined
        cleared = true
      }
    }
    if (!following || this.leaderCommit <= applied) {
      this.lagSince = undefined
      return cleared ? "Cleared" : undefined
    }
    if (this.lagSince === undefined) this.lagSince = now
    else if (now - this.lagSince >= after) return "NotApplying"
    return cleared ? "Cleared" : undefined
  }
}
