/**
 * The status of a server's nodes as one JSON-ready record (`ClusterStatus`), for `/api/status`,
 * the dashboard's live feed and `kuilt status`; and the commit rate of each node, sampled in the
 * background so it is there whether or not anyone watches.
 */
import { Clock, Duration, Effect, Option, Schedule } from "effect"
import type { Scope } from "effect"
import { judge } from "../observability/Health.js"
import type { ClusterHostShape, LocalNode } from "./ClusterHost.js"
import type { ClusterStatus, NodeStatus } from "./ApiSchema.js"

/** Commit rates over a sliding window of samples, per node. */
export class CommitRates {
  private readonly samples = new Map<string, Array<readonly [number, number]>>()
  constructor(private readonly windowMs: number = 5_000) {}

  /** Records node `id`'s commit index at time `at` (ms). */
  sample(id: string, at: number, commit: number): void {
    let s = this.samples.get(id)
    if (s === undefined) {
      s = []
      this.samples.set(id, s)
    }
    s.push([at, commit])
    while (s.length > 2 && at - s[0]![0] > this.windowMs) s.shift()
  }

  /** Commits per second of node `id` over the window (0 with fewer than two samples). */
  rate(id: string): number {
    const s = this.samples.get(id)
    if (s === undefined || s.length < 2) return 0
    const [t0, c0] = s[0]!
    const [t1, c1] = s[s.length - 1]!
    return t1 > t0 ? Math.max(0, ((c1 - c0) * 1000) / (t1 - t0)) : 0
  }
}

/** The status of a node that is not running (or cannot be reached). */
export const downStatus = (n: LocalNode): NodeStatus => ({
  id: n.id,
  up: false,
  down: n.down ?? "stopped",
  role: null,
  term: 0,
  commit: 0,
  applied: 0,
  lastLogIndex: 0,
  compactionFloor: 0,
  leader: null,
  lag: 0,
  voters: [],
  learners: [],
  followers: [],
  keys: 0,
  snapshotBytes: 0,
  commitsPerSecond: 0,
  healthy: false,
  problems: [n.down ?? "stopped"],
  tail: []
})

/** The status of one local node now. */
export const nodeStatus = (n: LocalNode, rates: CommitRates | undefined, stallAfterMs?: number): Effect.Effect<NodeStatus> =>
  Effect.gen(function*() {
    const kv = n.kv
    if (kv === undefined) return downStatus(n)
    const h = yield* kv.raft.health
    const now = yield* Clock.currentTimeMillis
    const membership = yield* kv.raft.membership.get
    const floor = yield* kv.raft.compactionFloor.get
    const failure = yield* kv.failure
    const verdict = judge(h, now, stallAfterMs)
    const problems = Option.isSome(failure) ? [...verdict.problems, failure.value] : verdict.problems
    return {
      id: n.id,
      up: !h.stopped,
      down: h.stopped ? "stopped" : null,
      role: h.role,
      term: h.term,
      commit: h.commitIndex,
      applied: kv.store.applied,
      lastLogIndex: h.lastLogIndex,
      compactionFloor: floor,
      leader: h.leader,
      lag: Math.max(0, Math.max(h.leaderCommitIndex, h.commitIndex) - kv.store.applied),
      voters: [...membership.voters].sort(),
      learners: [...membership.learners].sort(),
      followers: h.followers.map((f) => ({ id: f.id, matchIndex: f.matchIndex })),
      keys: kv.store.size,
      snapshotBytes: kv.store.snapshotBytes,
      commitsPerSecond: Math.round((rates?.rate(n.id) ?? 0) * 10) / 10,
      healthy: problems.length === 0,
      problems,
      tail: [...kv.store.tail]
    }
  })

/**
 * The status of every node of `host` now; with `withRemote`, also the other servers' nodes as they
 * report them (the dashboard's feed; `/api/status` answers for this server only).
 */
export const clusterStatus = (host: ClusterHostShape, rates: CommitRates | undefined, withRemote = false): Effect.Effect<ClusterStatus> =>
  Effect.gen(function*() {
    const nodes = yield* host.nodes
    const local = yield* Effect.forEach(nodes, (n) => nodeStatus(n, rates))
    const remote = withRemote && host.remote !== undefined ? yield* host.remote : []
    const statuses = [...local, ...remote].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return {
      mode: host.mode,
      server: host.name,
      at: yield* Clock.currentTimeMillis,
      nodes: statuses,
      peers: host.peers.map((p) => ({ id: p.id, url: p.url })),
      partitions: host.controls === undefined ? null : yield* host.controls.partitions
    }
  })

/** Samples every up node's commit index into `rates` every `every` (default 500 ms), in the caller's scope. */
export const sampleRates = (host: ClusterHostShape, rates: CommitRates, every: Duration.DurationInput = Duration.millis(500)): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.forkScoped(Effect.repeat(
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const n of yield* host.nodes) {
        if (n.kv !== undefined) rates.sample(n.id, now, yield* n.kv.raft.commitIndex.get)
      }
    }),
    Schedule.spaced(every)
  )))
