/**
 * The engine's input queue: a plain array plus one parked waiter. Producers (the transport pump,
 * API calls, cancellations) push synchronously; the single engine fiber takes everything queued
 * in one go. This keeps a propose round trip at ~1 µs of queue overhead instead of the ~10 µs of
 * `Queue` + `Deferred` (effect-stack §8).
 */
import { Effect } from "effect"

export class Mailbox<A> {
  private items: Array<A> = []
  private waiter: (() => void) | undefined = undefined

  get size(): number {
    return this.items.length
  }

  push(item: A): void {
    this.items.push(item)
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w()
    }
  }

  /** Everything queued, oldest first (may be empty). */
  takeAll(): Array<A> {
    if (this.items.length === 0) return []
    const out = this.items
    this.items = []
    return out
  }

  /** Completes as soon as something is queued (immediately if something already is). */
  readonly awaitItem: Effect.Effect<void> = Effect.suspend(() => {
    if (this.items.length > 0) return Effect.void
    return Effect.async<void>((resume) => {
      this.waiter = () => resume(Effect.void)
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  })
}
