/**
 * The `RaftNode` service and its constructors: `RaftNode.make` (bound to the caller's `Scope`)
 * and `RaftNode.layer` (transport and storage from context). The node restores its durable state,
 * refuses to start on an inconsistent one (`CorruptDurableState`), and runs until its scope
 * closes or it fails (fail-stop on a storage error; see `failStopGuard.ts` for what a Layer-built
 * node does then). The contract, `RaftNodeShape`, is in `services/raft/RaftNode.ts`; the tag
 * lives here, beside its only implementation, so that `RaftNode.make/layer` are its statics.
 */
import { Context, Effect, Fiber, Layer, Option, PubSub, Random, Stream } from "effect"
import type { Queue, Scope } from "effect"
import { entryWireSize } from "../codec/raft/RaftCodec.js"
import { ClientIdentity } from "../../services/raft/ClientId.js"
import type { ClientId } from "../../services/raft/ClientId.js"
import type { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import { committedIndex } from "../../services/raft/LogEntry.js"
import type { Committed } from "../../services/raft/LogEntry.js"
import { RaftConfig, validate } from "../../services/raft/RaftConfig.js"
import type { CorruptDurableState, StorageError } from "../../services/raft/RaftErrors.js"
import { RaftConfigError } from "../../services/raft/RaftErrors.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import type { RaftRole } from "../../services/raft/RaftRole.js"
import { RaftStorage } from "../../services/raft/RaftStorage.js"
import type { RaftStorageShape } from "../../services/raft/RaftStorage.js"
import type { RaftMetric, RaftTraceEvent } from "../../services/raft/RaftTrace.js"
import { RaftTransport } from "../../services/raft/RaftTransport.js"
import type { RaftTransportShape } from "../../services/raft/RaftTransport.js"
import { checkDurableState } from "./DurableStateCheck.js"
import { Prng } from "./core/Prng.js"
import { RaftCore } from "./core/RaftCore.js"
import { Cell } from "../internal/Cell.js"
import { Engine } from "./engine/Engine.js"
import { awaitRead } from "./awaitRead.js"
import { changeMembershipWithRetry } from "./changeMembershipWithRetry.js"
import { guardFailStop } from "./failStopGuard.js"

export interface RaftNodeOptions {
  /** The bootstrap membership (every founding node passes the same one). */
  readonly cluster: ClusterConfig
  readonly transport: RaftTransportShape
  readonly storage: RaftStorageShape
  /** Tuning; defaults as in `RaftConfig.defaults`. */
  readonly config?: Partial<RaftConfig>
  /** Client identity for proposal dedup keys; `Auto` by default. */
  readonly identity?: ClientIdentity
}

export type RaftNodeStartError = RaftConfigError | StorageError | CorruptDurableState

/** Capacity of the committed stream's buffer before a slow consumer back-pressures the node. */
const COMMITTED_BUFFER = 4096
/** Trace and metric streams keep this many events for a slow reader, then drop the oldest. */
const TRACE_BUFFER = 512

const hex16 = (a: number, b: number) =>
  (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0")

/** Starts a node bound to the current `Scope`. */
export const make = (options: RaftNodeOptions): Effect.Effect<RaftNodeShape, RaftNodeStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validate({ ...RaftConfig.defaults, ...options.config })
    const id = options.transport.selfId
    const cluster = options.cluster
    if (cluster.voters.size === 0 && !cluster.learners.has(id)) {
      return yield* new RaftConfigError({ reason: `a cluster with no voters must list ${id} as a learner` })
    }
    const durable = yield* options.storage.load
    yield* checkDurableState(durable)

    const seed = yield* Random.nextInt
    const identity = options.identity ?? ClientIdentity.Auto()
    const clientId: ClientId = identity._tag === "Durable"
      ? identity.clientId
      : (`auto:${id}-${hex16(yield* Random.nextInt, yield* Random.nextInt)}` as ClientId)
    const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const core = new RaftCore({
      id,
      config,
      bootstrap: cluster,
      durable,
      rng: new Prng(seed),
      clientId,
      identity: identity._tag,
      entrySize: entryWireSize,
      now
    })

    const surfaces = {
      role: new Cell<RaftRole>(core.role),
      leader: new Cell(Option.fromNullable(core.leader)),
      term: new Cell(core.term),
      membership: new Cell(core.config.new),
      commitIndex: new Cell(core.commitIndex),
      compactionFloor: new Cell(core.log.snapshotIndex),
      committed: yield* PubSub.bounded<Committed>(COMMITTED_BUFFER),
      trace: yield* PubSub.sliding<RaftTraceEvent>(TRACE_BUFFER),
      metrics: yield* PubSub.sliding<RaftMetric>(TRACE_BUFFER)
    }
    const engine = new Engine(core, options.transport, options.storage, surfaces)

    // Over an in-process fabric the engine drains frames itself; otherwise a pump feeds its mailbox.
    const pump = engine.attachFrames() ? undefined : yield* options.transport.incoming.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const env of chunk) engine.mailbox.push({ _tag: "Frame", from: env.from, bytes: env.bytes })
        })
      ),
      Effect.forkScoped
    )
    // A forward sent to a peer that leaves the transport can never be answered: tell the core.
    const peers = yield* options.transport.peers.changes.pipe(
      Stream.runForEach((set) => Effect.sync(() => engine.mailbox.push({ _tag: "Peers", peers: set }))),
      Effect.forkScoped
    )
    const loop = yield* Effect.forkScoped(engine.run)
    const close = Effect.gen(function*() {
      yield* engine.shutdown("node closed")
      yield* Fiber.interrupt(loop)
      yield* Fiber.interrupt(peers)
      if (pump !== undefined) yield* Fiber.interrupt(pump)
    })
    // Runs before the forked fibers are interrupted (finalizers run last-added first).
    yield* Effect.addFinalizer(() => close)

    const committedFrom = (fromIndex: number): Stream.Stream<Committed> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        // Subscribe first, then ask for the cut: whatever the cut misses, the tail has.
        const tail = yield* engine.publisher.listen("committed")
        const cut = yield* engine.calls.cut(fromIndex)
        return Stream.concat(
          Stream.fromIterable(cut.items),
          Stream.fromQueue(tail).pipe(Stream.filter((c) => committedIndex(c) > cut.upTo))
        )
      }))

    const node: RaftNodeShape = {
      id,
      clientId: Effect.sync(() => core.clientId),
      role: surfaces.role,
      leader: surfaces.leader,
      term: surfaces.term,
      membership: surfaces.membership,
      commitIndex: surfaces.commitIndex,
      compactionFloor: surfaces.compactionFloor,
      committed: fromSubscription(engine.publisher.listen("committed")),
      committedFrom,
      trace: fromSubscription(engine.publisher.listen("trace")),
      metrics: fromSubscription(engine.publisher.listen("metrics")),
      propose: (command, opts) => engine.calls.propose(command, opts?.requestId),
      readIndex: engine.calls.read("Leader"),
      readFence: engine.calls.read("Fence"),
      transferLeadership: (target) => engine.calls.transferLeadership(target),
      cancelTransfer: engine.calls.cancelTransfer,
      changeMembership: (target) => engine.calls.changeMembership(target),
      publishSnapshot: (snapshot) => engine.calls.publishSnapshot(snapshot),
      awaitLeadership: engine.publisher.awaitLeadership,
      awaitFailure: engine.calls.awaitFailure,
      close
    }
    return node
  })

/** `Stream.fromPubSub` over a subscription made by `subscribe` (the engine counts its listeners). */
const fromSubscription = <A>(subscribe: Effect.Effect<Queue.Dequeue<A>, never, Scope.Scope>): Stream.Stream<A> =>
  Stream.flatMap(Stream.scoped(subscribe), (queue) => Stream.fromQueue(queue, { maxChunkSize: Stream.DefaultChunkSize }))

/**
 * A node built from the `RaftTransport` and `RaftStorage` in context, living as long as the
 * Layer's scope. Fails to build with `RaftNodeStartError`. A fail-stop after the build (a storage
 * write fails, a second writer shares its durable client id) is logged, makes every waiting and
 * later use of the node die with the `StorageError` / `ClientIdCollision`, and interrupts the fiber
 * that built the Layer unless that fiber is waiting on the node (see `failStopGuard.ts`): a
 * program run with `Effect.provide(RaftNode.layer(...))` or `Layer.launch` ends with it.
 */
export const layer = (
  options: Omit<RaftNodeOptions, "transport" | "storage">
): Layer.Layer<RaftNode, RaftNodeStartError, RaftTransport | RaftStorage> =>
  Layer.scoped(
    RaftNode,
    Effect.gen(function*() {
      const owner = yield* Effect.withFiberRuntime<Fiber.RuntimeFiber<unknown, unknown>>((fiber) => Effect.succeed(fiber))
      const transport = yield* RaftTransport
      const storage = yield* RaftStorage
      return yield* guardFailStop(yield* make({ ...options, transport, storage }), owner)
    })
  )

/**
 * The `RaftNode` service (its interface is `RaftNodeShape`), with its constructors:
 * `RaftNode.make(options)` starts a node in the caller's `Scope`, `RaftNode.layer(options)` builds
 * one from the `RaftTransport` and `RaftStorage` in context; `RaftNode.awaitRead` and
 * `RaftNode.changeMembershipWithRetry` are helpers over any node.
 */
export class RaftNode extends Context.Tag("kuilt/RaftNode")<RaftNode, RaftNodeShape>() {
  static readonly make = make
  static readonly layer = layer
  static readonly awaitRead = awaitRead
  static readonly changeMembershipWithRetry = changeMembershipWithRetry
}
