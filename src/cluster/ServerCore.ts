/**
 * The platform-neutral heart of a cluster server: its voters (Raft nodes over the router's
 * transports), the router, admission and learner GC, health and metrics. The Node constructor
 * (`node/serverCluster.ts`) gives it a listening relay, the voter links and storage.
 */
import { Duration, Effect, ExecutionStrategy, Exit, Metric, MetricLabel, Option, Schedule, Scope, Stream } from "effect"
import type { ServerClusterHealth, ServerClusterShape, VoterHealth } from "../../services/cluster/ServerCluster.js"
import type { VoterMeshShape } from "../../services/cluster/VoterMesh.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { RaftConfig } from "../../services/raft/RaftConfig.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import type { RaftStorageShape } from "../../services/raft/RaftStorage.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import type { WeaveFailed } from "../../services/seam/SeamErrors.js"
import type { RaftNodeStartError } from "../raft/RaftNode.js"
import { make as makeNode } from "../raft/RaftNode.js"
import * as Admission from "./Admission.js"
import * as Router from "./Router.js"

/** Learners a cluster admits unless told otherwise. */
export const DEFAULT_MAX_LEARNERS = 1024
/** How long a learner may be attached nowhere before it is removed, unless told otherwise. */
export const DEFAULT_LEARNER_GRACE = Duration.seconds(30)

/** Learners in the membership (as this server's first voter knows it). */
export const learnersGauge = Metric.gauge("kuilt_cluster_learners")
/** Clients connected to this server. */
export const clientsGauge = Metric.gauge("kuilt_cluster_clients_attached")
/** Pair links of this server's voters that are up. */
export const linksUpGauge = Metric.gauge("kuilt_cluster_mesh_links_up")
/** Frames refused at the first hop or on a voter link, labelled `reason`. */
export const framesRefused = Metric.counter("kuilt_cluster_frames_refused_total", { incremental: true })

export interface ServerCoreOptions {
  readonly voters: ReadonlyArray<NodeId>
  readonly owned: ReadonlyArray<NodeId>
  readonly mesh: VoterMeshShape
  readonly storage: (voter: NodeId) => Effect.Effect<RaftStorageShape, RaftNodeStartError, Scope.Scope>
  /** The server's member of its client room (one per `start`; re-made if it tears). */
  readonly clientRoom: Effect.Effect<SeamShape, WeaveFailed, Scope.Scope>
  /** The clients connected to the client room now. */
  readonly connected: Effect.Effect<ReadonlySet<string>>
  /** Largest payload the client room carries. */
  readonly clientBudget: number
  readonly url: string
  readonly port: number
  /** Stops the whole server (the scope it was built in). */
  readonly close: Effect.Effect<void>
  readonly raft?: Partial<RaftConfig>
  readonly maxLearners?: number
  readonly learnerGrace?: Duration.DurationInput
}

/** Builds the server in the current scope (its voters start at once; clients wait for `start`). */
export const make = (options: ServerCoreOptions): Effect.Effect<ServerClusterShape, RaftNodeStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const entry = options.owned[0]!
    const maxLearners = options.maxLearners ?? DEFAULT_MAX_LEARNERS
    const nodes = new Map<NodeId, RaftNodeShape>()
    let admission: Admission.Admission | undefined
    const router = yield* Router.make({
      voters: options.voters,
      owned: options.owned,
      entry,
      meshSeams: options.mesh.seams,
      clientBudget: options.clientBudget,
      onControl: (from, m) => admission?.onControl(from, m)
    })
    for (const id of options.owned) {
      const storage = yield* options.storage(id)
      nodes.set(id, yield* makeNode({
        cluster: ClusterConfig.ofVoters(...options.voters),
        transport: router.transports.get(id)!,
        storage,
        ...(options.raft === undefined ? {} : { config: options.raft })
      }))
    }
    const first = nodes.get(entry)!
    admission = Admission.make({
      voters: options.voters,
      entry,
      nodes,
      router,
      connected: options.connected,
      maxLearners,
      learnerGrace: Duration.decode(options.learnerGrace ?? DEFAULT_LEARNER_GRACE)
    })
    const adm = admission

    // The client room's member, re-made should it tear (the relay ended it, or it overflowed).
    const serveRoom = Effect.forever(Effect.gen(function*() {
      const roomScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const seam = yield* options.clientRoom.pipe(Scope.extend(roomScope), Effect.either)
      if (seam._tag === "Right") {
        yield* router.setClientRoom(seam.right)
        yield* Stream.runDrain(Stream.takeUntil(seam.right.state.changes, (s) => s._tag === "Torn"))
      } else {
        yield* Effect.logWarning(`client room unavailable: ${seam.left.reason}`)
      }
      yield* Scope.close(roomScope, Exit.void)
      yield* Effect.sleep(Duration.millis(100))
    }))
    let started = false
    const start = Effect.suspend(() => {
      if (started) return Effect.void
      started = true
      return Effect.asVoid(Effect.all([Effect.forkIn(serveRoom, scope), Scope.extend(adm.run, scope)]))
    })

    const health: Effect.Effect<ServerClusterHealth> = Effect.gen(function*() {
      const voters: Array<VoterHealth> = []
      for (const [id, n] of nodes) {
        voters.push({
          id,
          role: yield* n.role.get,
          term: yield* n.term.get,
          commitIndex: yield* n.commitIndex.get,
          leader: Option.getOrNull(yield* n.leader.get)
        })
      }
      const membership = yield* first.membership.get
      const links = yield* options.mesh.links
      const s = adm.state()
      const leader = Option.getOrNull(yield* first.leader.get)
      return {
        server: entry,
        leader,
        voters,
        core: options.voters,
        learners: membership.learners.size,
        maxLearners,
        clients: { attached: router.attachments.local.size, pending: s.pending, refused: s.refused },
        learnersRemoved: s.removed,
        links,
        frames: { ...router.counters },
        ok: leader !== null && links.every((l) => l.state === "Up")
      }
    })

    // Metrics, published by difference once a second (the hot path only bumps plain counters).
    const labels = [MetricLabel.make("server", entry)]
    const last: Record<string, number> = {}
    const publish = Effect.gen(function*() {
      const h = yield* health
      learnersGauge.unsafeUpdate(h.learners, labels)
      clientsGauge.unsafeUpdate(h.clients.attached, labels)
      linksUpGauge.unsafeUpdate(h.links.filter((l) => l.state === "Up").length, labels)
      for (const reason of ["refusedOrigin", "refusedDest", "refusedKind", "refusedMalformed", "refusedMesh"] as const) {
        const now = h.frames[reason]
        const before = last[reason] ?? 0
        if (now > before) framesRefused.unsafeUpdate(now - before, [...labels, MetricLabel.make("reason", reason)])
        last[reason] = now
      }
    })
    yield* Effect.forkIn(Effect.repeat(publish, Schedule.spaced(Duration.seconds(1))), scope)

    const server: ServerClusterShape = {
      voters: options.voters,
      owned: options.owned,
      server: entry,
      url: options.url,
      port: options.port,
      nodes,
      start,
      committed: first.committed,
      committedFrom: first.committedFrom,
      leader: first.leader,
      awaitLeader: Effect.flatMap(
        Stream.runHead(Stream.filterMap(first.leader.changes, (l) => l)),
        (l) => (Option.isSome(l) ? Effect.succeed(l.value) : Effect.never)
      ),
      membership: first.membership,
      health,
      links: options.mesh.links,
      close: options.close
    }
    return server
  })
