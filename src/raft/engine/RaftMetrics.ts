/**
 * Effect `Metric`s of the Raft engine, labelled by node: proposals, commit latency, elections and
 * refused frames. Updated with the metrics' synchronous `unsafeUpdate` from inside the engine's
 * turn, so the hot path pays no extra Effect per proposal.
 */
import { Metric, MetricBoundaries, MetricLabel } from "effect"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftMetric } from "../../../services/raft/RaftTrace.js"

/** Proposals accepted by this node's API. */
export const proposals = Metric.counter("kuilt_raft_proposals_total", { incremental: true })
/** Proposals that completed successfully. */
export const commits = Metric.counter("kuilt_raft_commits_total", { incremental: true })
/** Milliseconds from propose to commit, as seen by the proposing node. */
export const commitLatency = Metric.histogram(
  "kuilt_raft_commit_latency_ms",
  MetricBoundaries.exponential({ start: 0.01, factor: 2, count: 20 })
)
/** Elections this node started (real ones, after a successful pre-vote). */
export const elections = Metric.counter("kuilt_raft_elections_total", { incremental: true })
/** Elections this node won. */
export const electionsWon = Metric.counter("kuilt_raft_elections_won_total", { incremental: true })
/** Frames dropped because they could not be decoded or failed a plausibility gate. */
export const refusedFrames = Metric.counter("kuilt_raft_refused_frames_total", { incremental: true })

export class EngineMetrics {
  private readonly labels: ReadonlyArray<MetricLabel.MetricLabel>

  constructor(node: NodeId) {
    this.labels = [MetricLabel.make("node", node)]
  }

  /** The core accepted a proposal (its start time travels with the proposal itself). */
  proposed(): void {
    proposals.unsafeUpdate(1, this.labels)
  }

  /** A proposal the core accepted at `startedAt` ended (`ok`: committed). */
  resolved(startedAt: number, ok: boolean, now: number): void {
    if (!ok) return
    commits.unsafeUpdate(1, this.labels)
    commitLatency.unsafeUpdate(now - startedAt, this.labels)
  }

  undecodable(): void {
    refusedFrames.unsafeUpdate(1, this.labels)
  }

  record(events: ReadonlyArray<RaftMetric>): void {
    for (const m of events) {
      switch (m._tag) {
        case "ElectionStarted":
          elections.unsafeUpdate(1, this.labels)
          break
        case "ElectionWon":
          electionsWon.unsafeUpdate(1, this.labels)
          break
        case "FrameRefused":
          refusedFrames.unsafeUpdate(1, this.labels)
          break
        case "ProposeAccepted":
        case "ProposeCommitted":
        case "ElectionSuppressedTermCeiling":
        case "SnapshotRejectedSizeCeiling":
          break
      }
    }
  }
}
