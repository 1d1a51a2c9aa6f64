/**
 * What a node built by `RaftNode.layer` does when it stops on its own (fail-stop: a failed storage
 * write, `StorageError`, or a second writer under its durable client id, `ClientIdCollision`).
 *
 * A node made with `RaftNode.make` reports a fail-stop only through `awaitFailure`; its caller
 * holds the node and decides. A program that receives its node from a Layer never sees the node
 * being made, so the Layer makes the failure impossible to miss:
 *
 * 1. it logs the failure (`Effect.logError`, annotated with the node id);
 * 2. every call and stream of the node that is waiting when it stops, and every later use, dies
 *    with the failure as the defect (`Cause.die(StorageError | ClientIdCollision)`), instead of
 *    failing with `NotLeader` or ending quietly as a closed node's do;
 * 3. it interrupts the fiber that built the Layer (the one running `Effect.provide(layer)` or
 *    `Layer.launch`), so a program that does not use the node (a server loop, `Effect.never`)
 *    ends instead of carrying a dead node — unless that fiber is itself waiting in a call on the
 *    node (`propose`, `readIndex`, ...), in which case (2) reaches it with the typed failure. A
 *    stream is consumed in a fiber of its own, so an owner reading `committed` is interrupted
 *    while the stream's fiber dies with the failure. A Layer built in a parallel branch
 *    (`Layer.merge`) has no building fiber left, so only (1) and (2) apply there.
 *
 * The guard costs nothing on a call's success path: it only looks at failures.
 */
import { Deferred, Effect, Fiber, Stream } from "effect"
import type { Scope } from "effect"
import type { ProposeFailFastOptions, ProposeOptions, RaftNodeFailure, RaftNodeShape } from "../../services/raft/RaftNode.js"

/**
 * Wraps `node` (owned by the Layer's scope) so that its fail-stop reaches `owner`, the fiber that
 * builds the Layer, and every user of the node; see the module comment.
 */
export const guardFailStop = (
  node: RaftNodeShape,
  owner: Fiber.RuntimeFiber<unknown, unknown>
): Effect.Effect<RaftNodeShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Set by the watcher below. The engine reports the failure before it closes the node, so the
    // watcher is resumed, and runs, before any caller woken by the close.
    let failure: RaftNodeFailure | undefined = undefined
    let ownerWaiting = 0
    const stopped = yield* Deferred.make<never>()

    yield* node.awaitFailure.pipe(
      Effect.flatMap((f) =>
        Effect.gen(function*() {
          failure = f
          yield* Deferred.die(stopped, f)
          yield* Effect.logError(`Raft node ${node.id} stopped: ${f.message}`).pipe(
            Effect.annotateLogs({ nodeId: node.id, failure: f._tag })
          )
          if (ownerWaiting === 0) yield* Effect.fiberIdWith((self) => Fiber.interruptAsFork(owner, self))
        })
      ),
      Effect.forkScoped
    )

    /** A failed call of a stopped node dies with the failure; the owner's waits are counted. */
    const call = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
      const guarded = Effect.catchAll(effect, (e) => (failure === undefined ? Effect.fail(e) : Effect.die(failure)))
      return Effect.withFiberRuntime<A, E>((fiber) => {
        if (fiber !== owner) return guarded
        ownerWaiting++
        return Effect.ensuring(guarded, Effect.sync(() => void ownerWaiting--))
      })
    }

    /**
     * A stream of a stopped node dies with the failure where it would have ended. (Effect runs a
     * stream in a fiber of its own, so an owner reading one is not "waiting on the node" above:
     * it is interrupted, and the stream's fiber dies with the failure.)
     */
    const stream = <A>(s: Stream.Stream<A>): Stream.Stream<A> =>
      Stream.concat(s, Stream.suspend(() => (failure === undefined ? Stream.empty : Stream.die(failure))))

    const guarded: RaftNodeShape = {
      ...node,
      committed: stream(node.committed),
      committedFrom: (fromIndex) => stream(node.committedFrom(fromIndex)),
      trace: stream(node.trace),
      metrics: stream(node.metrics),
      propose: ((command: Uint8Array, options?: ProposeOptions | ProposeFailFastOptions) =>
        call(node.propose(command, options as ProposeFailFastOptions))) as RaftNodeShape["propose"],
      readIndex: call(node.readIndex),
      readFence: call(node.readFence),
      transferLeadership: (target) => call(node.transferLeadership(target)),
      changeMembership: (target) => call(node.changeMembership(target)),
      publishSnapshot: (snapshot) =>
        Effect.suspend(() => (failure === undefined ? node.publishSnapshot(snapshot) : Effect.die(failure))),
      // A stopped node may still say it leads, and a closed node that does not never will.
      awaitLeadership: Effect.suspend(() =>
        failure === undefined
          ? call(Effect.raceFirst(node.awaitLeadership, Deferred.await(stopped)))
          : Effect.die(failure)
      )
    }
    return guarded
  })
