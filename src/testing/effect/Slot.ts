/**
 * One node position of a simulated cluster and how an incarnation of it starts.
 *
 * The slot outlives crashes: it owns the node's disk (what survives a crash), its state-machine
 * consumer and its identity. An incarnation is one process lifetime: its own `Scope` (closing it
 * is the crash), its own seam on the shared loom, its own pause gate, and its own seeded `Random`
 * (`seed/id/incarnation`), so a restarted node does not replay the random choices (election
 * timeouts, client id) of its previous life and a seeded run stays reproducible.
 */
import { Effect, Exit, Random, Scope, Stream } from "effect"
import type { InMemoryLoomShape } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import type * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { make as makeStorage } from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../../layers/raft/transport/SeamRaftTransport.js"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import type { WeaveFailed } from "../../../services/seam/SeamErrors.js"
import { make as makeRaftNode } from "../../raft/RaftNode.js"
import type { RaftNodeStartError } from "../../raft/RaftNode.js"
import type { History } from "./History.js"
import { NodeGate } from "./NodeGate.js"
import type { Applier } from "./StateMachine.js"
import type { VirtualTimers } from "./VirtualTimers.js"

/** `up`: running; `paused`: stopped but alive (see `NodeGate`); `crashed`: no process. */
export type NodeStatus = "up" | "paused" | "crashed"

/** One process lifetime of a node. */
export interface Incarnation {
  /** 0 for the first start, +1 per restart. */
  readonly number: number
  readonly scope: Scope.CloseableScope
  /** The node as built (the harness's own consumer and observers use it). */
  readonly raw: RaftNodeShape
  /** The gated node handed to users (`cluster.node(id)`). */
  readonly view: RaftNodeShape
  readonly gate: NodeGate
}

export interface Slot<S> {
  readonly id: NodeId
  readonly disk: InMemoryRaftStorage.Disk
  readonly applier: Applier<S>
  status: NodeStatus
  current: Incarnation
}

/** What every incarnation of every node shares. */
export interface BootContext {
  readonly seed: number
  readonly loom: InMemoryLoomShape
  readonly timers: VirtualTimers
  readonly history: History
  readonly bootstrap: ClusterConfig
  readonly config: Partial<RaftConfig>
}

/** The loom session every node weaves into (one session per loom). */
const SESSION = "kuilt-simulated-cluster"

/**
 * Starts incarnation `number` of node `id` over `disk`. The very first node of the cluster hosts
 * the loom session (`host`); every later start joins it (the session outlives its host). On a
 * start failure the incarnation's scope is closed and the error returned.
 */
export const boot = <S>(
  ctx: BootContext,
  slot: { readonly id: NodeId; readonly disk: InMemoryRaftStorage.Disk; readonly applier: Applier<S> },
  number: number,
  host: boolean
): Effect.Effect<Incarnation, RaftNodeStartError | WeaveFailed> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const started = Effect.gen(function*() {
      const gate = yield* NodeGate.make
      const seam = yield* (host
        ? ctx.loom.host({ sessionName: SESSION, peerKey: slot.id, maxPeers: 64 })
        : ctx.loom.join({ sessionName: SESSION, peerKey: slot.id })).pipe(Scope.extend(scope))
      const storage = yield* makeStorage({ disk: slot.disk })
      const raw = yield* makeRaftNode({
        cluster: ctx.bootstrap,
        transport: gate.transport(SeamRaftTransport.fromSeam(seam)),
        storage: gate.storage(storage),
        config: ctx.config
      }).pipe(
        Scope.extend(scope),
        // Forked fibers inherit both: the engine's timers and Random draws are this incarnation's.
        Effect.withRandom(Random.make(`${ctx.seed}/${slot.id}/${number}`)),
        Effect.withClock(gate.clock(ctx.timers))
      )
      yield* Effect.forkIn(
        Stream.runForEach(raw.trace, (e) => Effect.sync(() => ctx.history.onTrace(e))),
        scope
      )
      yield* Effect.forkIn(slot.applier.run(raw, gate), scope)
      const incarnation: Incarnation = { number, scope, raw, view: gate.node(raw), gate }
      return incarnation
    })
    return yield* Effect.onError(started, (cause) => Scope.close(scope, Exit.failCause(cause)))
  })
