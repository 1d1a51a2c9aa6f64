/**
 * Gauges of a running node, and the log lines of its role and membership changes.
 *
 * `observeNode(node)` forks, in the caller's scope, a sampler that sets every `sampleEvery`
 * (default 250 ms) the gauges below from `node.health` — labelled `node`, and `follower` for the
 * match lag — and a watcher that logs each role change (`Effect.logInfo`: "n2 is Leader at term
 * 3") and each membership change, annotated with `node` (the log level comes from the program's
 * logger: `--log-level` / `KUILT_LOG_LEVEL` in the `kuilt` command).
 *
 * Gauges: `kuilt_raft_term`, `kuilt_raft_commit_index`, `kuilt_raft_applied_index`,
 * `kuilt_raft_last_log_index`, `kuilt_raft_log_entries` (entries above the compaction floor),
 * `kuilt_raft_role{role}` (1 for the current role, 0 for the others), `kuilt_raft_leader_known`,
 * `kuilt_raft_follower_match_lag{follower}` (on the leader: its last index minus the follower's
 * match index), `kuilt_raft_snapshot_bytes` (from the caller, who owns the state machine), and
 * `kuilt_raft_up` (0 once the node stopped).
 */
import { Duration, Effect, Metric, MetricLabel, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import type { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { RaftHealth, RaftNodeShape } from "../../services/raft/RaftNode.js"
import type { RaftRole } from "../../services/raft/RaftRole.js"

export const term = Metric.gauge("kuilt_raft_term", { description: "The node's current term" })
export const commitIndex = Metric.gauge("kuilt_raft_commit_index", { description: "The node's commit index" })
export const appliedIndex = Metric.gauge("kuilt_raft_applied_index", {
  description: "The highest index the node handed to its committed stream"
})
export const lastLogIndex = Metric.gauge("kuilt_raft_last_log_index", { description: "The last index in the node's log" })
export const logEntries = Metric.gauge("kuilt_raft_log_entries", { description: "Entries in the log above the compaction floor" })
export const role = Metric.gauge("kuilt_raft_role", { description: "1 for the node's current role (label role), 0 for the others" })
export const leaderKnown = Metric.gauge("kuilt_raft_leader_known", { description: "1 while the node knows a live leader" })
export const followerMatchLag = Metric.gauge("kuilt_raft_follower_match_lag", {
  description: "On the leader: its last log index minus the follower's acknowledged match index"
})
export const snapshotBytes = Metric.gauge("kuilt_raft_snapshot_bytes", { description: "Size of the node's latest snapshot" })
export const up = Metric.gauge("kuilt_raft_up", { description: "1 while the node runs, 0 once it stopped" })

const ROLES: ReadonlyArray<RaftRole> = ["Follower", "Candidate", "Leader", "Learner"]

export interface ObserveOptions {
  /** Size in bytes of the node's latest snapshot (the state machine knows it). */
  readonly snapshotBytes?: () => number
  /** How often the gauges are set. Default 250 ms. */
  readonly sampleEvery?: Duration.DurationInput
}

const describeConfig = (c: ClusterConfig): string =>
  `voters [${[...c.voters].sort().join(", ")}]${c.learners.size > 0 ? `, learners [${[...c.learners].sort().join(", ")}]` : ""}`

/** Sets every gauge of `node` from one health record (exported for a last update at a stop). */
export const record = (
  h: RaftHealth,
  compactionFloor: number,
  snapshot: number | undefined,
  lagged: Set<string>
): void => {
  const labels = [MetricLabel.make("node", h.node)]
  term.unsafeUpdate(h.term, labels)
  commitIndex.unsafeUpdate(h.commitIndex, labels)
  appliedIndex.unsafeUpdate(h.appliedIndex, labels)
  lastLogIndex.unsafeUpdate(h.lastLogIndex, labels)
  logEntries.unsafeUpdate(Math.max(0, h.lastLogIndex - compactionFloor), labels)
  for (const r of ROLES) role.unsafeUpdate(!h.stopped && h.role === r ? 1 : 0, [...labels, MetricLabel.make("role", r)])
  leaderKnown.unsafeUpdate(h.leader === null ? 0 : 1, labels)
  up.unsafeUpdate(h.stopped ? 0 : 1, labels)
  if (snapshot !== undefined) snapshotBytes.unsafeUpdate(snapshot, labels)
  const now = new Set<string>()
  for (const f of h.followers) {
    now.add(f.id)
    followerMatchLag.unsafeUpdate(Math.max(0, h.lastLogIndex - f.matchIndex), [...labels, MetricLabel.make("follower", f.id)])
  }
  // A follower no longer reported (this node stepped down, or it left) has no lag to show.
  for (const id of lagged) {
    if (!now.has(id)) followerMatchLag.unsafeUpdate(0, [...labels, MetricLabel.make("follower", id)])
  }
  lagged.clear()
  for (const id of now) lagged.add(id)
}

/** Forks the gauge sampler and the role/membership logger of `node` in the caller's scope. */
export const observeNode = (node: RaftNodeShape, options: ObserveOptions = {}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const lagged = new Set<string>()
    const sample = Effect.gen(function*() {
      const h = yield* node.health
      const floor = yield* node.compactionFloor.get
      record(h, floor, options.snapshotBytes?.(), lagged)
    })
    yield* sample
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(options.sampleEvery ?? Duration.millis(250))))
    // Whatever the scope's end, the last sample says the node is down.
    yield* Effect.addFinalizer(() => Effect.flatMap(node.health, (h) => Effect.sync(() => record({ ...h, stopped: true }, 0, undefined, lagged))))
    const annotate = Effect.annotateLogs({ node: node.id })
    yield* node.role.changes.pipe(
      Stream.changes,
      Stream.drop(1),
      Stream.runForEach((r) => Effect.flatMap(node.term.get, (t) => annotate(Effect.logInfo(`${node.id} is ${r} at term ${t}`)))),
      Effect.forkScoped
    )
    yield* node.membership.changes.pipe(
      Stream.map(describeConfig),
      Stream.changes,
      Stream.drop(1),
      Stream.runForEach((c) => annotate(Effect.logInfo(`${node.id}: membership is now ${c}`))),
      Effect.forkScoped
    )
  })
