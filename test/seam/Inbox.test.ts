import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import type { Scheduler } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import { PeerId } from "../../services/seam/PeerId.js"
import type { Swatch } from "../../services/seam/Swatch.js"
import { Inbox } from "../../src/seam/Inbox.js"

const a = PeerId("a")
const b = PeerId("b")

/**
 * A scheduler that lets the test decide when a fiber runs and forces exactly one yield at the
 * fiber's `yieldAt`-th operation, so the test can act in the gap at every possible point.
 */
class GapScheduler implements Scheduler.Scheduler {
  private ops = 0
  readonly pending: Array<() => void> = []
  constructor(private readonly yieldAt: number) {}
  get yielded(): boolean {
    return this.ops >= this.yieldAt
  }
  shouldYield(): number | false {
    this.ops++
    return this.ops === this.yieldAt ? 0 : false
  }
  scheduleTask(task: () => void): void {
    this.pending.push(task)
  }
  /** Runs queued tasks until the forced yield happened (or nothing is left to run). */
  runUntilYield(): void {
    while (!this.yielded && this.pending.length > 0) this.pending.shift()!()
  }
  runAll(): void {
    while (this.pending.length > 0) this.pending.shift()!()
  }
}

/**
 * Runs `collect` on a fiber that is forced to yield at its n-th operation, performs `act` in that
 * gap, lets everything run and answers whether the collector finished.
 */
const finishesWhenActingInGap = <A>(
  n: number,
  collect: Effect.Effect<A>,
  act: () => void
): Effect.Effect<Option.Option<A>> =>
  Effect.gen(function*() {
    const scheduler = new GapScheduler(n)
    // Only the forked fiber runs on the gap scheduler (the test's own fiber must not be held). A
    // daemon, so that a fiber left stuck by a lost wake-up fails the assertion instead of hanging
    // the test's own shutdown (its interruption would be scheduled on the held scheduler).
    const fiber = yield* Effect.forkDaemon(Effect.withScheduler(collect, scheduler))
    for (let i = 0; i < 50 && !scheduler.yielded; i++) {
      scheduler.runUntilYield()
      yield* Effect.yieldNow()
    }
    act()
    scheduler.runAll()
    const exit = yield* Fiber.poll(fiber)
    return Option.flatMap(exit, (e) => (e._tag === "Success" ? Option.some(e.value) : Option.none()))
  })

const bytes = (s: Chunk.Chunk<Swatch>) => Chunk.toReadonlyArray(s).map((w) => w.payload[0])

describe("Inbox", () => {
  it.effect("a close that lands between the collector's empty drain and its wait still completes the stream", () =>
    Effect.gen(function*() {
      for (let n = 1; n < 150; n++) {
        const inbox = new Inbox(a, DeliveryPolicy.reliable())
        const done = yield* finishesWhenActingInGap(n, Stream.runCollect(inbox.stream), () => inbox.close())
        expect(Option.isSome(done), `yield at op ${n}`).toBe(true)
      }
    }))

  it.effect("an offer that lands between the collector's empty drain and its wait is delivered", () =>
    Effect.gen(function*() {
      for (let n = 1; n < 150; n++) {
        const inbox = new Inbox(a, DeliveryPolicy.reliable())
        const done = yield* finishesWhenActingInGap(
          n,
          inbox.stream.pipe(Stream.take(1), Stream.runCollect),
          () => void inbox.tryOffer(b, new Uint8Array([7]))
        )
        expect(Option.map(done, bytes), `yield at op ${n}`).toEqual(Option.some([7]))
      }
    }))

  it.effect("a sender waiting on a full link resumes when the collector drains in the gap", () =>
    Effect.gen(function*() {
      for (let n = 1; n < 80; n++) {
        const inbox = new Inbox(a, DeliveryPolicy.reliable(1))
        expect(inbox.tryOffer(b, new Uint8Array([0]))).toBe("accepted")
        let drained: Array<number | undefined> = []
        const done = yield* finishesWhenActingInGap(n, inbox.offer(b, new Uint8Array([1])), () => {
          // Drain synchronously through a second inbox-level pull: the collector takes the frame.
          drained = drainNow(inbox)
        })
        expect(done, `yield at op ${n}`).toEqual(Option.some("accepted"))
        expect(drained).toEqual([0])
      }
    }))

  it.effect("keeps per-link FIFO and global arrival order across links", () =>
    Effect.gen(function*() {
      const inbox = new Inbox(a, DeliveryPolicy.reliable())
      inbox.tryOffer(b, new Uint8Array([1]))
      inbox.tryOffer(PeerId("c"), new Uint8Array([2]))
      inbox.tryOffer(b, new Uint8Array([3]))
      const got = yield* inbox.stream.pipe(Stream.take(3), Stream.runCollect)
      expect(bytes(got)).toEqual([1, 2, 3])
      expect(Chunk.toReadonlyArray(got).map((s) => s.sequence)).toEqual([1, 2, 3])
    }))

  it.effect("Lossy drops the oldest frame of the full link only", () =>
    Effect.gen(function*() {
      const inbox = new Inbox(a, DeliveryPolicy.lossy(2))
      inbox.tryOffer(b, new Uint8Array([1]))
      inbox.tryOffer(PeerId("c"), new Uint8Array([2]))
      inbox.tryOffer(b, new Uint8Array([3]))
      expect(inbox.tryOffer(b, new Uint8Array([4]))).toBe("accepted-dropped-oldest")
      const got = yield* inbox.stream.pipe(Stream.take(3), Stream.runCollect)
      expect(bytes(got)).toEqual([2, 3, 4])
      expect(inbox.droppedOldest).toBe(1)
    }))
})

/** Takes whatever is queued right now, without a fiber (the stream's pull is private). */
function drainNow(inbox: Inbox): Array<number | undefined> {
  const out: Array<number | undefined> = []
  Effect.runSync(
    inbox.stream.pipe(
      Stream.take(inbox.size),
      Stream.runForEach((s) => Effect.sync(() => out.push(s.payload[0])))
    )
  )
  return out
}
