/**
 * `ManagedSeam`: a Seam with a stable identity whose backing seam can be replaced, the Seam
 * analogue of the original `ManagedRaftTransport` (seed 000). Whatever sits on top (a Raft node, a
 * mux) keeps its seam across reconnects; only the backing seam is swapped when the connection is
 * re-established.
 *
 * Lifecycle:
 * - Before the first `swap`: `peers = {selfId}`, `state = Weaving`, `maxPayloadBytes = None`, and
 *   sends succeed but are dropped (counted in `stats.droppedUnbacked`): the layer above can start
 *   before a connection exists.
 * - On `swap(next)`: the pump of the previous backing seam is interrupted and awaited *before* the
 *   new pump starts, so no frame of the old seam is delivered after a frame of the new one.
 *   `peers`, `state` and `maxPayloadBytes` then follow `next` (including later changes of its peers).
 * - When the backing seam tears, the managed seam reports `Weaving` (recoverable: waiting for the
 *   next swap), `peers` follows the torn seam's collapse to `{selfId}`, and sends are dropped
 *   (counted in `stats.droppedBackingTorn`) rather than failing with `SeamTorn`, which would tell
 *   the caller the managed seam itself is dead.
 * - `close` tears the managed seam for good: `Torn(reason)`, `incoming` completes, sends and swaps
 *   fail with `SeamTorn`. So does closing the scope given to `make`.
 *
 * Ownership: closing the managed seam does NOT close its current backing seam. The managed seam
 * created none of its backing seams; the caller wove them, holds them in its own scope and may
 * still need them (say, to hand the same connection to another layer). It only stops pumping.
 *
 * Each backing seam's `incoming` is collected once, so a seam swapped out cannot be swapped back
 * in (its pump would die with `IncomingAlreadyCollected`); swapping in the current seam is a no-op.
 */
import { Effect, Equal, Fiber, Option, Stream, SubscriptionRef } from "effect"
import type { Scope } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { FrameOverflow, SeamTorn } from "../../services/seam/SeamErrors.js"
import type { SendError } from "../../services/seam/SeamErrors.js"
import { CloseReason, SeamState } from "../../services/seam/SeamState.js"
import { samePeerSet } from "./ChannelView.js"
import { SelfIdMismatch } from "./errors.js"
import { Inbox } from "./Inbox.js"
import type { OfferCounters } from "./pump.js"
import { makeOfferCounters, offerFrame, pumpFrames } from "./pump.js"

/** Options of a `ManagedSeam`. */
export interface ManagedSeamOptions {
  /**
   * Delivery policy of the stable inbox behind `incoming`. Default `Reliable`: a lagging collector
   * back-pressures the backing seam. Under `Strict`, an overflow closes the managed seam with
   * `FrameOverflow`.
   */
  readonly policy?: DeliveryPolicy
}

/** Counters of a managed seam. */
export interface ManagedSeamStats extends OfferCounters {
  /** Completed swaps (a no-op swap to the current seam is not counted). */
  swaps: number
  /** Sends (`sendTo` and `broadcast`) dropped because no seam had been swapped in yet. */
  droppedUnbacked: number
  /** Sends dropped because the backing seam was torn. */
  droppedBackingTorn: number
}

export interface ManagedSeam extends SeamShape {
  /**
   * Makes `next` the backing seam (see the module comment for ordering). Fails with
   * `SelfIdMismatch` if `next` belongs to another peer, and with `SeamTorn` once the managed seam is
   * closed. Swaps are serialized with each other and with `close`.
   */
  readonly swap: (next: SeamShape) => Effect.Effect<void, SelfIdMismatch | SeamTorn>
  /** The current backing seam, if any (`None` before the first swap and after close). */
  readonly current: Effect.Effect<Option.Option<SeamShape>>
  /** Live counters (updated in place). */
  readonly stats: Readonly<ManagedSeamStats>
}

/** A backing seam's state as the managed seam reports it: its tear is recoverable here. */
const managedState = (backing: SeamState): SeamState => {
  switch (backing._tag) {
    case "Weaving":
    case "Woven":
      return backing
    case "Torn":
      return SeamState.Weaving()
  }
}

/**
 * Publishes `value` unless it equals the current one: a SubscriptionRef publishes every `set`, and
 * the follower's first emission repeats what `swap` already published.
 */
const publish = <A>(ref: SubscriptionRef.SubscriptionRef<A>, value: A, same: (x: A, y: A) => boolean) =>
  Effect.flatMap(SubscriptionRef.get(ref), (current) => (same(current, value) ? Effect.void : SubscriptionRef.set(ref, value)))

const sameState = (x: SeamState, y: SeamState): boolean => Equal.equals(x, y)

/**
 * Creates a managed seam for `selfId` with no backing seam. Its fibers live in the current scope;
 * closing the scope closes the managed seam (not the backing seam).
 */
export const make = (selfId: PeerId, options?: ManagedSeamOptions): Effect.Effect<ManagedSeam, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const lock = yield* Effect.makeSemaphore(1)
    const self: ReadonlySet<PeerId> = new Set([selfId])
    const peersRef = yield* SubscriptionRef.make<ReadonlySet<PeerId>>(self)
    const stateRef = yield* SubscriptionRef.make<SeamState>(SeamState.Weaving())
    const inbox = new Inbox(selfId, options?.policy ?? DeliveryPolicy.reliable())
    const stats: ManagedSeamStats = { ...makeOfferCounters(), swaps: 0, droppedUnbacked: 0, droppedBackingTorn: 0 }

    // Plain fields guarded by `lock` for writes; the send path reads them without an Effect.
    let backing: SeamShape | undefined = undefined
    let closed: CloseReason | undefined = undefined
    let pump: Fiber.RuntimeFiber<void> | undefined = undefined
    let follower: Fiber.RuntimeFiber<void> | undefined = undefined

    /** Interrupts the current pump and follower and waits for both to end. */
    const stopCurrent = Effect.gen(function*() {
      if (pump !== undefined) yield* Fiber.interrupt(pump)
      if (follower !== undefined) yield* Fiber.interrupt(follower)
      pump = undefined
      follower = undefined
    })

    const closeNow = (reason: CloseReason): Effect.Effect<void> =>
      lock.withPermits(1)(Effect.gen(function*() {
        if (closed !== undefined) return
        closed = reason
        yield* stopCurrent
        backing = undefined
        inbox.close()
        yield* publish(peersRef, self, samePeerSet)
        yield* SubscriptionRef.set(stateRef, SeamState.Torn({ reason }))
      })).pipe(Effect.uninterruptible)

    const overflow = (from: PeerId) =>
      // Forked: closing interrupts and awaits the pump, which is the fiber detecting the overflow.
      Effect.asVoid(Effect.forkIn(
        closeNow(CloseReason.Error({ cause: new FrameOverflow({ from, to: selfId, capacity: inbox.policy.capacity }) })),
        scope
      ))

    const pumpFrom = (next: SeamShape): Effect.Effect<void> =>
      pumpFrames(next.incoming, (frame) => offerFrame(inbox, frame.sender, frame.payload, stats, () => overflow(frame.sender)))
        .pipe(
          // A seam whose incoming was already collected elsewhere kills only this pump; the managed
          // seam stays usable for the next swap.
          Effect.catchAllDefect((defect) => Effect.logError("ManagedSeam: pump of the backing seam died", defect))
        )

    /** Republishes the backing seam's peers and (mapped) state for as long as it is current. */
    const follow = (next: SeamShape): Effect.Effect<void> =>
      Effect.all([
        Stream.runForEach(next.peers.changes, (peers) => publish(peersRef, peers, samePeerSet)),
        Stream.runForEach(next.state.changes, (state) => publish(stateRef, managedState(state), sameState))
      ], { concurrency: 2, discard: true })

    const swap = (next: SeamShape): Effect.Effect<void, SelfIdMismatch | SeamTorn> =>
      lock.withPermits(1)(Effect.gen(function*() {
        if (closed !== undefined) return yield* new SeamTorn({ reason: closed })
        if (next.selfId !== selfId) return yield* new SelfIdMismatch({ expected: selfId, actual: next.selfId })
        if (next === backing) return
        // The ordering guarantee: the old pump is gone before the new one collects anything.
        yield* stopCurrent
        backing = next
        stats.swaps++
        // Publish now, so `peers`/`state` are already right when `swap` returns; the follower then
        // tracks later changes (its first emission repeats these values).
        yield* publish(peersRef, yield* next.peers.get, samePeerSet)
        yield* publish(stateRef, managedState(yield* next.state.get), sameState)
        // Explicitly interruptible: fibers forked here would inherit this uninterruptible region,
        // and the next swap or close could then never stop them.
        follower = yield* Effect.forkIn(Effect.interruptible(follow(next)), scope)
        pump = yield* Effect.forkIn(Effect.interruptible(pumpFrom(next)), scope)
      })).pipe(Effect.uninterruptible)

    /** Runs `send` on the backing seam, or drops (and counts) when there is none or it is torn. */
    const viaBacking = <E>(send: (seam: SeamShape) => Effect.Effect<void, E | SeamTorn>): Effect.Effect<void, E | SeamTorn> =>
      Effect.suspend(() => {
        if (closed !== undefined) return Effect.fail(new SeamTorn({ reason: closed }))
        const seam = backing
        if (seam === undefined) {
          stats.droppedUnbacked++
          return Effect.void
        }
        return Effect.catchIf(
          send(seam),
          (e): e is SeamTorn => e instanceof SeamTorn,
          () =>
            Effect.suspend(() => {
              // Torn because the managed seam was closed meanwhile: that one is for the caller.
              if (closed !== undefined) return Effect.fail(new SeamTorn({ reason: closed }))
              stats.droppedBackingTorn++
              return Effect.void
            })
        )
      })

    yield* Effect.addFinalizer(() => closeNow(CloseReason.Normal()))

    const managed: ManagedSeam = {
      selfId,
      peers: peersRef,
      state: stateRef,
      get maxPayloadBytes() {
        return backing === undefined ? Option.none() : backing.maxPayloadBytes
      },
      incoming: inbox.stream,
      sendTo: (peer, payload): Effect.Effect<void, SendError> => viaBacking((seam) => seam.sendTo(peer, payload)),
      broadcast: (payload) => viaBacking((seam) => seam.broadcast(payload)),
      close: (reason = CloseReason.Normal()) => closeNow(reason),
      swap,
      current: Effect.sync(() => Option.fromNullable(backing)),
      stats
    }
    return managed
  })

/** `ManagedSeam.make`: see `make`. */
export const ManagedSeam = { make }
