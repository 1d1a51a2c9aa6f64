/**
 * The single timer of an in-memory loom: frames that must arrive later (latency, jitter,
 * reordering) wait in a binary heap ordered by (due time, insertion order), and one fiber delivers
 * them when they are due.
 *
 * Why one fiber instead of one `Effect.sleep` per frame: a fiber per frame costs ~10 µs and
 * thousands of timers, and the interleaving of many sleeping fibers is harder to keep
 * deterministic. With one heap, two frames due at the same instant are delivered in the order they
 * were scheduled, so a seeded run under `TestClock` is reproducible.
 */
import type { Clock } from "effect"
import { Duration, Effect } from "effect"

/** Anything with a due time (clock milliseconds). */
export interface Timed {
  readonly deliverAt: number
}

interface Slot<A> {
  readonly at: number
  readonly order: number
  readonly item: A
}

const before = <A>(x: Slot<A>, y: Slot<A>): boolean => x.at < y.at || (x.at === y.at && x.order < y.order)

export class DeliveryScheduler<A extends Timed> {
  private readonly heap: Array<Slot<A>> = []
  private order = 0
  /** Due time the fiber is currently sleeping until (`Infinity` when idle or awake). */
  private sleepingUntil = Infinity
  private wake: (() => void) | undefined = undefined
  /** A wake-up requested while the fiber was not parked; consumed by the next park. */
  private wakePending = false

  /**
   * @param clock the clock the loom was made with (the `TestClock` in tests)
   * @param deliver hands one due item to the fabric; returns an Effect only when delivery needs
   *   one (e.g. tearing a `Strict` receiver), `undefined` when it finished synchronously
   */
  constructor(
    private readonly clock: Clock.Clock,
    private readonly deliver: (item: A) => Effect.Effect<void> | undefined
  ) {}

  /** Items waiting for their due time. */
  get pending(): number {
    return this.heap.length
  }

  /** Queues `item` for delivery at `item.deliverAt`, waking the fiber if it is due earlier. */
  schedule(item: A): void {
    this.push({ at: item.deliverAt, order: this.order++, item })
    if (item.deliverAt < this.sleepingUntil) {
      const wake = this.wake
      if (wake !== undefined) {
        this.wake = undefined
        wake()
      } else {
        this.wakePending = true
      }
    }
  }

  /** The delivery loop; fork it in the loom's scope. Never completes on its own. */
  readonly run: Effect.Effect<never> = Effect.suspend(() => {
    const self = this
    return Effect.gen(function*() {
      while (true) {
        self.wakePending = false
        if (self.heap.length === 0) {
          self.sleepingUntil = Infinity
          yield* self.parked
          continue
        }
        const now = self.clock.unsafeCurrentTimeMillis()
        const due = self.heap[0]!.at
        if (due > now) {
          self.sleepingUntil = due
          yield* Effect.raceFirst(self.sleepUntil(due), self.parked)
          self.sleepingUntil = Infinity
          continue
        }
        // Deliver everything due by `now`; items scheduled meanwhile for `now` are included, so
        // zero-delay frames queued behind in-flight ones keep their order.
        while (self.heap.length > 0 && self.heap[0]!.at <= now) {
          const effect = self.deliver(self.pop().item)
          if (effect !== undefined) yield* effect
        }
      }
    })
  })

  /**
   * Sleeps until the clock reads `due`. The remaining time is read when the sleep is registered,
   * not when the loop decided to sleep: the sleep runs on a forked (racing) fiber, and a
   * `TestClock.adjust` landing in between would otherwise push the wake-up past `due`.
   */
  private sleepUntil(due: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const left = due - this.clock.unsafeCurrentTimeMillis()
      return left > 0 ? this.clock.sleep(Duration.millis(left)) : Effect.void
    })
  }

  /** Suspends until `schedule` asks for a wake-up (or returns at once if it already did). */
  private readonly parked: Effect.Effect<void> = Effect.async<void>((resume) => {
    // Checked inside the registration, so a wake-up requested between the loop's check and this
    // point is not lost.
    if (this.wakePending) {
      this.wakePending = false
      resume(Effect.void)
      return
    }
    this.wake = () => resume(Effect.void)
    return Effect.sync(() => {
      this.wake = undefined
    })
  })

  private push(slot: Slot<A>): void {
    const heap = this.heap
    heap.push(slot)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  private pop(): Slot<A> {
    const heap = this.heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      while (true) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
        i = m
      }
    }
    return top
  }
}
