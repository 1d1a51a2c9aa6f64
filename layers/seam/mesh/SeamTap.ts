/**
 * Drains a seam's frames into a plain callback. Over a seam with a synchronous fast path (the
 * WebSocket client's, a relay's in-process member, `MeshSeam`, `InMemoryLoom`) the frames are taken
 * in a microtask after each arrival, in arrival order, without a fiber, a Stream element or an
 * Effect per frame — the relays of a cluster server handle every Raft frame of every client, and
 * that overhead was most of their cost. Other seams are pumped by a fiber as usual.
 *
 * The callback must not block; it may return an Effect (a send that could not complete at once),
 * which is run beside the drain: order is kept for what the callback does synchronously.
 */
import { Effect, Fiber, Runtime } from "effect"
import type { Scope } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../services/seam/Seam.js"
import { SEAM_FAST_PATH } from "../../../src/seam/Inbox.js"
import type { SeamFastPath } from "../../../src/seam/Inbox.js"
import { pumpFrames } from "../../../src/seam/pump.js"

/** What the callback may hand back: nothing (done), or an Effect to run. */
export type TapResult = Effect.Effect<void> | undefined | void

/** A running drain; `stop` ends it (frames still queued in the seam are left there). */
export interface SeamTap {
  readonly stop: Effect.Effect<void>
}

/**
 * Starts draining `seam` (its single collector from now on) into `onFrame`, in the current scope.
 * A defect thrown by `onFrame` is logged and the frame dropped; the drain goes on.
 */
export const tap = (
  seam: SeamShape,
  onFrame: (sender: PeerId, payload: Uint8Array) => TapResult
): Effect.Effect<SeamTap, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const run = (effect: Effect.Effect<void>) => void Runtime.runFork(runtime)(effect)
    const handle = (sender: PeerId, payload: Uint8Array): void => {
      try {
        const more = onFrame(sender, payload)
        if (more !== undefined) run(more)
      } catch (defect) {
        run(Effect.logError("SeamTap: a frame handler threw; the frame is dropped", defect))
      }
    }
    const fast = (seam as Partial<Record<typeof SEAM_FAST_PATH, SeamFastPath>>)[SEAM_FAST_PATH]
    let stopped = false
    let scheduled = false
    const source = fast?.collect(() => {
      if (scheduled || stopped) return
      scheduled = true
      queueMicrotask(drain)
    })
    function drain(): void {
      scheduled = false
      if (!stopped) source!.drain(handle)
    }
    if (source !== undefined) {
      yield* Effect.addFinalizer(() => Effect.sync(() => void (stopped = true)))
      if (source.pending() > 0) {
        scheduled = true
        queueMicrotask(drain)
      }
      return { stop: Effect.sync(() => void (stopped = true)) }
    }
    const fiber = yield* Effect.forkScoped(Effect.interruptible(pumpFrames(seam.incoming, (f) => {
      handle(f.sender, f.payload)
      return undefined
    })))
    return { stop: Fiber.interrupt(fiber).pipe(Effect.asVoid) }
  })

/** `SeamTap.tap`: see `tap`. */
export const SeamTap = { tap }
