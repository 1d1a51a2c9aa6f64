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
import { idProblem } from "../../services/IdLimit.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { Committed } from "../../services/raft/LogEntry.js"
import { RaftConfig, validate } from "../../services/raft/RaftConfig.js"
import type { CorruptDurableState, StorageError } from "../../services/raft/RaftErrors.js"
import { InvalidMembership, RaftConfigError } from "../../services/raft/RaftErrors.js"
import type { ProposeFailFastOptions, ProposeOptions, RaftNodeShape } from "../../services/raft/RaftNode.js"
import type { RaftRole } from "../../services/raft/RaftRole.js"
import { RaftStorage } from "../../services/raft/RaftStorage.js"
import type { RaftStorageShape } from "../../services/raft/RaftStorage.js"
import type { RaftMetric, RaftTraceEvent } from "../../services/raft/RaftTrace.js"
import { RaftTransport } from "../../services/raft/RaftTransport.js"
import type { RaftTransportShape } from "../../services/raft/RaftTransport.js"
import { checkDurableState } from "./DurableStateCheck.js"
import { Prng } from "./core/Prng.js"
import { autoClientId } from "./core/Ids.js"
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
  /**
   * Whom a joiner trusts. A node whose `cluster` has no voters (a joiner, `ClusterConfig.of([],
   * [self])`) must name the nodes it joins through — typically the leader or the voters it was
   * told about: while it knows no configuration with voters it accepts leader frames and vote
   * requests only from them, and asks them to vouch for a leader it does not know. Once a
   * configuration with voters reaches it from such a leader, membership alone decides (see the
   * README's trust rule). Ignored while the configuration in force has voters.
   */
  readonly joinVia?: Iterable<string>
}

export type RaftNodeStartError = RaftConfigError | StorageError | CorruptDurableState

/** Trace and metric streams keep this many events for a slow reader, then drop the oldest. */
const TRACE_BUFFER = 512

const hex16 = (a: number, b: number) =>
  (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0")

/** Why a membership target names an id outside the id limit, or `undefined`. */
const memberIdProblem = (target: ClusterConfig): string | undefined => {
  for (const id of [...target.voters, ...target.learners]) {
    const p = idProblem(id)
    if (p !== undefined) return `member id ${JSON.stringify(String(id).slice(0, 64))} ${p}`
  }
  return undefined
}

/**
 * Checks every identifier entering through `options` against the one id limit (1..255 bytes of
 * well-formed UTF-8), and a joiner's trust rule; the first problem is the error.
 */
const checkIdentifiers = (options: RaftNodeOptions): RaftConfigError | undefined => {
  const fail = (what: string, id: unknown, problem: string) =>
    new RaftConfigError({ reason: `${what} ${JSON.stringify(String(id).slice(0, 64))} ${problem}` })
  const id = options.transport.selfId
  const self = idProblem(id)
  if (self !== undefined) return fail("node id", id, self)
  for (const member of [...options.cluster.voters, ...options.cluster.learners]) {
    const p = idProblem(member)
    if (p !== undefined) return fail("cluster member", member, p)
  }
  if (options.identity?._tag === "Durable") {
    const p = idProblem(options.identity.clientId)
    if (p !== undefined) return fail("durable client id", options.identity.clientId, p)
  }
  const via = [...(options.joinVia ?? [])]
  for (const v of via) {
    const p = idProblem(v)
    if (p !== undefined) return fail("joinVia id", v, p)
  }
  const cluster = options.cluster
  if (cluster.voters.size === 0) {
    if (!cluster.learners.has(id)) return new RaftConfigError({ reason: `a cluster with no voters must list ${id} as a learner` })
    if (!via.some((v) => v !== id)) {
      return new RaftConfigError({
        reason: `${id} starts with no voters (a joiner): name the nodes it joins through in joinVia, or a stranger could feed it a forged log`
      })
    }
  }
  return undefined
}

/**
 * Starts a node bound to the current `Scope`. Fails with `RaftConfigError` on an invalid config,
 * an identifier outside the id limit (node id, cluster members, durable client id, `joinVia`) or a
 * joiner without `joinVia`; with `StorageError` or `CorruptDurableState` when its storage cannot be
 * loaded or is inconsistent.
 */
export const make = (options: RaftNodeOptions): Effect.Effect<RaftNodeShape, RaftNodeStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validate({ ...RaftConfig.defaults, ...options.config })
    const id = options.transport.selfId
    const cluster = options.cluster
    const invalid = checkIdentifiers(options)
    if (invalid !== undefined) return yield* invalid
    const durable = yield* options.storage.load
    yield* checkDurableState(durable)

    const seed = yield* Random.nextInt
    const identity = options.identity ?? ClientIdentity.Auto()
    const clientId: ClientId = identity._tag === "Durable"
      ? identity.clientId
      : autoClientId(id, hex16(yield* Random.nextInt, yield* Random.nextInt))
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
      now,
      joinVia: [...(options.joinVia ?? [])].filter((v) => v !== id) as Array<NodeId>
    })

    const surfaces = {
      role: new Cell<RaftRole>(core.role),
      leader: new Cell(Option.fromNullable(core.leader)),
      term: new Cell(core.term),
      membership: new Cell(ClusterConfig.from(core.config.new)),
      commitIndex: new Cell(core.commitIndex),
      compactionFloor: new Cell(core.log.snapshotIndex),
      trace: yield* PubSub.sliding<RaftTraceEvent>(TRACE_BUFFER),
      metrics: yield* PubSub.sliding<RaftMetric>(TRACE_BUFFER)
    }
    const clock = yield* Effect.clock
    const engine = new Engine(core, options.transport, options.storage, surfaces, clock, {
      maxPendingProposals: config.maxPendingProposals
    })

    // Over an in-process fabric the engine drains frames itself; otherwise a pump feeds its mailbox.
    const pump = engine.attachFrames() ? undefined : yield* options.transport.incoming.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const env of chunk) engine.receive(env.from, env.bytes)
        })
      ),
      Effect.forkScoped
    )
    // A forward sent to a peer that leaves the transport can never be answered: tell the core.
    const peers = yield* options.transport.peers.changes.pipe(
      Stream.runForEach((set) => Effect.sync(() => engine.peersChanged(set))),
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

    // Each subscriber reads the node's log with its own cursor (`CommittedFeed`).
    const feed = engine.publisher.feed
    const committedFrom = (fromIndex: number): Stream.Stream<Committed> =>
      feed.stream(() => (Number.isFinite(fromIndex) ? Math.ceil(fromIndex) : fromIndex > 0 ? Number.MAX_SAFE_INTEGER : 1))

    const node: RaftNodeShape = {
      id,
      clientId: Effect.sync(() => core.clientId),
      role: surfaces.role,
      leader: surfaces.leader,
      term: surfaces.term,
      membership: surfaces.membership,
      commitIndex: surfaces.commitIndex,
      compactionFloor: surfaces.compactionFloor,
      committed: feed.live(),
      committedFrom,
      health: Effect.sync(() => engine.health()),
      trace: fromSubscription(engine.publisher.listen("trace")),
      metrics: fromSubscription(engine.publisher.listen("metrics")),
      // One implementation behind the overloads: `Overloaded` only ever fails a "fail" caller.
      propose: ((command: Uint8Array, opts?: ProposeOptions | ProposeFailFastOptions) => engine.calls.propose(command, opts)) as RaftNodeShape["propose"],
      readIndex: engine.calls.read("Leader"),
      readFence: engine.calls.read("Fence"),
      transferLeadership: (target) => engine.calls.transferLeadership(target),
      cancelTransfer: engine.calls.cancelTransfer,
      changeMembership: (target) => {
        // The id limit is checked here, at the edge: the core takes ids as given.
        const invalid = memberIdProblem(target)
        return invalid === undefined ? engine.calls.changeMembership(target) : Effect.fail(new InvalidMembership({ reason: invalid }))
      },
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
