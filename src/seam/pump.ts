/**
 * The receive loop shared by the seam combinators: one fiber drains a seam's `incoming` and hands
 * every frame to an `Inbox`, synchronously while there is room.
 *
 * Why not `Stream.runForEach(frame => inbox.offer(...))`: that builds and runs one Effect per
 * frame. Here a whole chunk is walked in a plain loop and an Effect exists only when a `Reliable`
 * inbox is full and the pump must wait (back-pressure), which is the rare case.
 */
import { Chunk, Effect, Stream } from "effect"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { Swatch } from "../../services/seam/Swatch.js"
import type { Inbox, OfferOutcome } from "./Inbox.js"

/**
 * What routing one frame produced: `undefined` when it was handled on the spot, or an Effect the
 * pump must run (and wait for) before it looks at the next frame.
 */
export type Delivery = Effect.Effect<void> | undefined

/** Counters a pump keeps about the frames it offered to inboxes. */
export interface OfferCounters {
  /** Frames queued for a collector. */
  delivered: number
  /** Frames lost to a full inbox: `Lossy` drop-oldest, or the frame refused under `Strict`. */
  droppedOverflow: number
  /** Frames that reached an inbox that was already closed. */
  droppedClosed: number
}

/** Fresh zeroed counters. */
export const makeOfferCounters = (): OfferCounters => ({ delivered: 0, droppedOverflow: 0, droppedClosed: 0 })

/**
 * Runs until `incoming` completes (the seam tore) or the fiber is interrupted, giving each frame to
 * `route` in order. Frames of one chunk are routed in a plain loop.
 */
export const pumpFrames = (incoming: Stream.Stream<Swatch>, route: (frame: Swatch) => Delivery): Effect.Effect<void> =>
  Stream.runForEachChunk(incoming, (chunk) => routeChunk(Chunk.toReadonlyArray(chunk), route))

const routeChunk = (frames: ReadonlyArray<Swatch>, route: (frame: Swatch) => Delivery): Effect.Effect<void> => {
  const from = (start: number): Effect.Effect<void> => {
    for (let i = start; i < frames.length; i++) {
      const wait = route(frames[i]!)
      // Keep the order: the rest of the chunk goes only after this frame is settled.
      if (wait !== undefined) return Effect.flatMap(wait, () => from(i + 1))
    }
    return Effect.void
  }
  return Effect.suspend(() => from(0))
}

/**
 * Offers one frame to `inbox`, counting the outcome. A full link under `Reliable` yields an Effect
 * that waits for room (the pump stalls: nothing is lost silently); a `Strict` overflow calls
 * `onOverflow`, whose Delivery (typically tearing the receiving seam) is returned.
 */
export const offerFrame = (
  inbox: Inbox,
  sender: PeerId,
  payload: Uint8Array,
  counters: OfferCounters,
  onOverflow: () => Delivery
): Delivery => {
  const outcome = inbox.tryOffer(sender, payload)
  if (outcome === "full") {
    return Effect.flatMap(inbox.offer(sender, payload), (late) => {
      const next = account(late, counters, onOverflow)
      return next === undefined ? Effect.void : next
    })
  }
  return account(outcome, counters, onOverflow)
}

const account = (outcome: OfferOutcome, counters: OfferCounters, onOverflow: () => Delivery): Delivery => {
  switch (outcome) {
    case "accepted":
      counters.delivered++
      return undefined
    case "accepted-dropped-oldest":
      counters.delivered++
      counters.droppedOverflow++
      return undefined
    case "overflow":
      counters.droppedOverflow++
      return onOverflow()
    case "closed":
      counters.droppedClosed++
      return undefined
    case "full":
      // Only `tryOffer` answers "full"; `offer` waits instead. Reaching here is a bug in Inbox.
      throw new Error("Inbox.offer answered \"full\"")
  }
}
