/**
 * A health verdict for a node, for `/health` and the dashboard: healthy when it runs, knows a
 * live leader, applies what the leader committed (its applied index caught up, or moved within
 * `stallAfterMs`), and suspects no wedge. A load balancer reads the HTTP status: 200 healthy,
 * 503 not. A node cut off from the others loses its leader within an election timeout (a leader
 * cut off from a quorum steps down: CheckQuorum), so a partition shows here, and healing clears
 * it once a leader is known again.
 */
import type { RaftHealth } from "../../services/raft/RaftNode.js"

/** Applied may stand still this long behind the leader's commit before it counts as stalled. */
export const DEFAULT_STALL_AFTER_MS = 5_000

export interface HealthVerdict {
  readonly ok: boolean
  readonly checks: {
    readonly running: boolean
    readonly leaderKnown: boolean
    readonly appliedAdvancing: boolean
    readonly notWedged: boolean
  }
  /** One phrase per failed check. */
  readonly problems: ReadonlyArray<string>
}

/** Judges `h` at time `now` (the node's clock, ms). */
export const judge = (h: RaftHealth, now: number, stallAfterMs: number = DEFAULT_STALL_AFTER_MS): HealthVerdict => {
  const running = !h.stopped
  const leaderKnown = running && h.leader !== null
  const caughtUp = h.appliedIndex >= h.leaderCommitIndex
  const appliedAdvancing = running && (caughtUp || now - h.lastAppliedAdvanceAt < stallAfterMs)
  const notWedged = h.wedge === null
  const problems: Array<string> = []
  if (!running) problems.push("stopped")
  if (running && !leaderKnown) problems.push("no leader known")
  if (running && !appliedAdvancing) {
    problems.push(`applied index ${h.appliedIndex} behind the leader's commit ${h.leaderCommitIndex} for ${Math.round((now - h.lastAppliedAdvanceAt) / 1000)} s`)
  }
  if (!notWedged) problems.push(`suspected wedge (${h.wedge!.reason})`)
  return { ok: problems.length === 0, checks: { running, leaderKnown, appliedAdvancing, notWedged }, problems }
}
