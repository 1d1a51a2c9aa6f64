/**
 * Effect `Metric`s of the Raft engine, labelled by node: proposals, commit and apply latency,
 * elections and election timeouts, frames refused (by reason: the gate that refused them, or
 * `Undecodable`) and suspected wedges (by reason). Updated with the metrics' synchronous
 * `unsafeUpdate` from inside the engine's turn, so the hot path pays no extra Effect per proposal.
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
/** Milliseconds from propose until this node handed the committed entry to its committed stream. */
export const applyLatency = Metric.histogram(
  "kuilt_raft_apply_latency_ms",
  MetricBoundaries.exponential({ start: 0.01, factor: 2, count: 20 })
)
/** Elections this node started (real ones, after a successful pre-vote). */
export const elections = Metric.counter("kuilt_raft_elections_total", { incremental: true })
/** Elections this node won. */
export const electionsWon = Metric.counter("kuilt_raft_elections_won_total", { incremental: true })
/** Times this voter's election timer fired. */
export const electionTimeouts = Metric.counter("kuilt_raft_election_timeouts_total", { incremental: true })
/**
 * Frames dropped because they could not be decoded or failed a gate; tagged `reason` (the
 * `RefusalGate`, or `Undecodable`).
 */
export const refusedFrames = Metric.counter("kuilt_raft_refused_frames_total", { incremental: true })
/**
 * Raft frames this node sent (`direction="out"`, counted when handed to the transport) and
 * received and decoded (`direction="in"`), tagged `type` (the message's tag: `AppendEntries`,
 * `RequestVote`, ...).
 */
export const frames = Metric.counter("kuilt_raft_frames_total", { incremental: true })
/** Wedges this node suspected, tagged `reason` (`WedgeReason`). */
export const wedgesSuspected = Metric.counter("kuilt_raft_wedges_suspected_total", { incremental: true })

export class EngineMetrics {
  private readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  /** Label sets by reason, built once per reason (refusals can come in floods). */
  private readonly byReason = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  /** Label sets by frame direction and type, built once each (frames are on the hot path). */
  private readonly byFrame = { in: new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>(), out: new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>() }

  constructor(node: NodeId) {
    this.labels = [MetricLabel.make("node", node)]
  }

  private reason(reason: string): ReadonlyArray<MetricLabel.MetricLabel> {
    let labels = this.byReason.get(reason)
    if (labels === undefined) {
      labels = [...this.labels, MetricLabel.make("reason", reason)]
      this.byReason.set(reason, labels)
    }
    return labels
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

  /** A proposal of this node reached its committed stream `elapsedMs` after it was accepted. */
  applied(elapsedMs: number): void {
    applyLatency.unsafeUpdate(elapsedMs, this.labels)
  }

  /** A frame of type `type` was sent (`out`) or received and decoded (`in`). */
  frame(direction: "in" | "out", type: string): void {
    const byType = this.byFrame[direction]
    let labels = byType.get(type)
    if (labels === undefined) {
      labels = [...this.labels, MetricLabel.make("direction", direction), MetricLabel.make("type", type)]
      byType.set(type, labels)
    }
    frames.unsafeUpdate(1, labels)
  }

  undecodable(): void {
    refusedFrames.unsafeUpdate(1, this.reason("Undecodable"))
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
        case "ElectionTimedOut":
          electionTimeouts.unsafeUpdate(1, this.labels)
          break
        case "FrameRefused":
          refusedFrames.unsafeUpdate(1, this.reason(m.gate))
          break
        case "WedgeSuspected":
          wedgesSuspected.unsafeUpdate(1, this.reason(m.reason))
          break
        case "ProposeAccepted":
        case "ProposeCommitted":
        case "ProposeApplied":
        case "ElectionSuppressedTermCeiling":
        case "SnapshotRejectedSizeCeiling":
          break
      }
    }
  }
}
