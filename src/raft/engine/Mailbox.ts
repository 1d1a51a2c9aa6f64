/**
 * The engine's input queue: a plain array plus one parked waiter. Producers (the transport pump,
 * API calls, cancellations) push synchronously; the single engine fiber takes everything queued
 * in one go. This keeps a propose round trip at ~1 µs of queue overhead instead of the ~10 µs of
 * `Queue` + `Deferred` (docs/ARCHITECTURE.md, "Raft").
 *
 * `wake` ends a wait without queuing anything (the engine's timer uses it). A wake that finds no
 * parked waiter is remembered until the next wait or `clearWake`, so one landing between the
 * engine's last check and its registration is never lost.
 */
import { Effect } from "effect"

export class Mailbox<A> {
  /** Slots `0..count-1` hold the queue; the array keeps its capacity from turn to turn. */
  private readonly items: Array<A | undefined> = []
  private count = 0
  private waiter: (() => void) | undefined = undefined
  private wakePending = false

  get size(): number {
    return this.count
  }

  push(item: A): void {
    if (this.count === this.items.length) this.items.push(item)
    else this.items[this.count] = item
    this.count++
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w()
    }
  }

  /** Ends the current (or next) wait without an item. */
  wake(): void {
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w()
    } else {
      this.wakePending = true
    }
  }

  /** Forgets a wake nobody waited for (the engine re-checks its timers right after). */
  clearWake(): void {
    this.wakePending = false
  }

  /**
   * Hands everything queued to `f`, oldest first, items queued meanwhile included. Slots are
   * cleared as they are taken (nothing is retained) but the array is kept: truncating it would
   * free its backing store, reallocated on the next push.
   */
  drain(f: (item: A) => void): void {
    const items = this.items
    for (let i = 0; i < this.count; i++) {
      const item = items[i]!
      items[i] = undefined
      f(item)
    }
    this.count = 0
  }

  /** Everything queued, oldest first (may be empty). */
  takeAll(): Array<A> {
    const out: Array<A> = []
    this.drain((item) => out.push(item))
    return out
  }

  /**
   * Completes as soon as something is queued or `wake` is called (at once if either already
   * happened). No canceler: returning one makes Effect wrap every wait in an interruption handler,
   * and the engine waits here several times per proposal. Only the engine's own fiber waits, and
   * it is interrupted only when the node closes; the waiter it leaves behind is then called at
   * most once more, and Effect ignores a resume of an interrupted wait.
   */
  readonly awaitItem: Effect.Effect<void> = Effect.async<void>((resume) => {
    // Checked inside the registration: nothing can slip in between the check and the parking.
    if (this.count > 0 || this.wakePending) {
      this.wakePending = false
      resume(Effect.void)
      return
    }
    this.waiter = () => resume(Effect.void)
  })
}
