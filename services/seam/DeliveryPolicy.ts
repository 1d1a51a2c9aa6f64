/**
 * What a bounded delivery queue does when it is full (the original library's `DeliveryPolicy`).
 *
 * - `Reliable`: the sender waits until the receiver makes room (back-pressure, nothing lost).
 * - `Lossy`: the oldest queued frame of that link is dropped to make room (counted).
 * - `Strict`: overflow is a bug; the receiving seam tears with `FrameOverflow` so it is seen.
 */
import { Data } from "effect"

/** What a full delivery queue does: wait (`Reliable`), drop the oldest (`Lossy`) or tear (`Strict`). */
export type DeliveryPolicy = Data.TaggedEnum<{
  Reliable: { readonly capacity: number }
  Lossy: { readonly capacity: number }
  Strict: { readonly capacity: number }
}>
const ctor = Data.taggedEnum<DeliveryPolicy>()

/** Default capacity of one link's queue, as in the original library. */
export const DEFAULT_DELIVERY_CAPACITY = 256

/** Constructors of `DeliveryPolicy`; a capacity that is not a positive integer throws `RangeError`. */
export const DeliveryPolicy = {
  ...ctor,
  reliable: (capacity = DEFAULT_DELIVERY_CAPACITY): DeliveryPolicy => ctor.Reliable({ capacity: checkCapacity(capacity) }),
  lossy: (capacity = DEFAULT_DELIVERY_CAPACITY): DeliveryPolicy => ctor.Lossy({ capacity: checkCapacity(capacity) }),
  strict: (capacity = DEFAULT_DELIVERY_CAPACITY): DeliveryPolicy => ctor.Strict({ capacity: checkCapacity(capacity) })
}

function checkCapacity(capacity: number): number {
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(`delivery capacity must be a positive integer, got ${capacity}`)
  }
  return capacity
}
