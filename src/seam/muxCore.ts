/**
 * What `MuxSeam` and `NamedMux` share: a table of channel views, the single pump that collects the
 * delegate's `incoming` and routes each frame to a view, and tearing every view when the pump
 * stops. The two differ only in how a frame's header names its channel.
 */
import { Cause, Effect, Exit } from "effect"
import type { Scope, Subscribable } from "effect"
import type { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { CloseReason, isTorn } from "../../services/seam/SeamState.js"
import type { SeamState } from "../../services/seam/SeamState.js"
import type { Swatch } from "../../services/seam/Swatch.js"
import type { MuxStats } from "./ChannelView.js"
import { ChannelView, makeMuxStats } from "./ChannelView.js"
import type { Delivery } from "./pump.js"
import { pumpFrames } from "./pump.js"

/**
 * The state of one mux. `route` is supplied by the concrete mux and reads `stats` to count what it
 * drops.
 */
export interface MuxCore {
  readonly delegate: SeamShape
  readonly stats: MuxStats
  /**
   * Returns the view registered under `key`, or creates one with `header`, registers it with
   * `register` and returns it. The view is torn at once if the pump has stopped.
   */
  readonly openView: <K>(
    key: K,
    lookup: (key: K) => ChannelView | undefined,
    register: (key: K, view: ChannelView) => void,
    header: Uint8Array,
    policy: DeliveryPolicy | undefined
  ) => Effect.Effect<ChannelView>
  readonly baseState: Subscribable.Subscribable<SeamState>
  readonly closeBase: (reason?: CloseReason) => Effect.Effect<void>
}

/**
 * Starts the pump in the current scope. It runs until the delegate's `incoming` completes (the
 * delegate tore) or the scope closes; then every view, present and future, is torn: with the
 * delegate's reason if it tore, `Normal` if the mux's scope closed, `Error` if the pump died.
 */
export const startMux = (
  delegate: SeamShape,
  defaultPolicy: DeliveryPolicy,
  route: (frame: Swatch, stats: MuxStats) => Delivery
): Effect.Effect<MuxCore, never, Scope.Scope> =>
  Effect.gen(function*() {
    const stats = makeMuxStats()
    const views = new Set<ChannelView>()
    let stopped: CloseReason | undefined = undefined

    const stop = (exit: Exit.Exit<void>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (stopped !== undefined) return
        const state = yield* delegate.state.get
        const reason: CloseReason = isTorn(state)
          ? state.reason
          : Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)
          ? CloseReason.Normal()
          : CloseReason.Error({ cause: Cause.squash(exit.cause) })
        stopped = reason
        for (const view of views) yield* view.latch(reason)
      })

    // Both paths tear the views: the pump's own exit (the delegate tore, or the pump died) and the
    // scope's finalizer, because a pump interrupted before it ever ran skips its `onExit`.
    yield* Effect.addFinalizer(() => stop(Exit.void))
    // Interruptible even if `make` runs in an uninterruptible region (a layer's construction, say):
    // the scope must be able to stop it.
    yield* pumpFrames(delegate.incoming, (frame) => route(frame, stats)).pipe(
      Effect.onExit(stop),
      Effect.interruptible,
      Effect.forkScoped
    )

    const openView = <K>(
      key: K,
      lookup: (key: K) => ChannelView | undefined,
      register: (key: K, view: ChannelView) => void,
      header: Uint8Array,
      policy: DeliveryPolicy | undefined
    ): Effect.Effect<ChannelView> =>
      Effect.suspend(() => {
        const existing = lookup(key)
        if (existing !== undefined) return Effect.succeed(existing)
        return Effect.flatMap(ChannelView.make(delegate, header, policy ?? defaultPolicy, stats), (made) => {
          // Creation took an Effect: a concurrent call may have registered the key meanwhile; the
          // first registration wins so that `channel` stays idempotent.
          const raced = lookup(key)
          if (raced !== undefined) return Effect.succeed(raced)
          register(key, made)
          views.add(made)
          return stopped === undefined ? Effect.succeed(made) : Effect.as(made.latch(stopped), made)
        })
      })

    return {
      delegate,
      stats,
      openView,
      baseState: delegate.state,
      closeBase: (reason) => delegate.close(reason)
    }
  })
