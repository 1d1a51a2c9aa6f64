/**
 * Virtual time for a simulated cluster: one clock and one timer list shared by every node, the
 * loom and the test itself, advanced only by the cluster's waits.
 *
 * Why not step Effect's `TestClock`: every `TestClock.adjust`, and every sleep it fires, waits for
 * the test's fibers to settle with several real `setTimeout(0)` rounds (about 7 ms of wall time
 * each), and a Raft follower leaves a dead `TestClock` sleep behind on every heartbeat (its
 * election timer is interrupted and re-armed). A virtual second of a 3-node cluster cost about two
 * seconds of wall time. Here a sleeper that is interrupted leaves the list at once, deadlines fire
 * in order at their exact instant, and between two deadlines the driver lets the fibers settle
 * with `setImmediate` rounds (tens of microseconds) until no timer was armed, woken or cancelled
 * in a whole round. Effect's scheduler runs fibers on microtasks, so one round runs everything
 * runnable, and an engine turn ends by re-arming its timer: a quiet round means the cluster is
 * idle at this instant. Runs are reproducible: same seed, same steps, same run, to the frame.
 *
 * The test sees the same time: `make` installs `testClock` (which also implements the
 * `TestClock` interface) as the Clock of the calling fiber for the rest of its scope, so
 * `Clock.currentTimeMillis`, `Effect.sleep` and even `TestClock.adjust` in the test (Effect's
 * `TestClock` functions act on the Clock in use) read and move the cluster's time.
 */
import { Chunk, Clock, Duration, Effect, Fiber } from "effect"
import type { TestClock } from "effect"

interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
}

/** A settle that needs more rounds than this is a livelock at a fixed instant (a bug). */
const MAX_SETTLE_ROUNDS = 100_000

/**
 * One macrotask turn: every microtask — so every runnable Effect fiber — has run before it ends.
 * (`setTimeout(0)` where there is no `setImmediate`: correct, only slower.)
 */
const macrotask: Effect.Effect<void> = typeof globalThis.setImmediate === "function"
  ? Effect.async<void>((resume) => {
    const handle = globalThis.setImmediate(() => resume(Effect.void))
    return Effect.sync(() => globalThis.clearImmediate(handle))
  })
  : Effect.async<void>((resume) => {
    const handle = globalThis.setTimeout(() => resume(Effect.void), 0)
    return Effect.sync(() => globalThis.clearTimeout(handle))
  })

export class VirtualTimers {
  private sleepers: Array<Sleeper> = []
  private seq = 0
  /** Bumped whenever a timer is armed, cancelled or fired: the settle loop's sign of life. */
  private activity = 0
  private driving = false
  /** The Clock of the loom and of the test (see `testClock`). */
  readonly clock: Clock.Clock
  readonly testClock: TestClock.TestClock

  private constructor(private time: number) {
    this.clock = this.clockWith((ms) => this.sleep(ms))
    const adjust = (d: Duration.DurationInput) => this.advance(Duration.toMillis(Duration.decode(d)))
    this.testClock = {
      ...this.clock,
      adjust,
      adjustWith: (d) => (effect) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(effect)
          yield* adjust(d)
          return yield* Fiber.join(fiber)
        }),
      setTime: (instant) => Effect.suspend(() => this.advance(Math.max(0, instant - this.time))),
      sleeps: Effect.sync(() => Chunk.fromIterable(this.sleepers.map((s) => s.at).sort((a, b) => a - b))),
      save: Effect.succeed(Effect.dieMessage("a simulated cluster's clock cannot be saved and restored: time only moves forward"))
    }
  }

  /**
   * Virtual time starts where the test's `TestClock` is (0 under a fresh `it.effect`), else at 0:
   * never at the wall clock, which would make timestamps differ from run to run.
   */
  static make: Effect.Effect<VirtualTimers> = Effect.map(Effect.clock, (c) => {
    const isTestClock = typeof (c as Partial<TestClock.TestClock>).adjust === "function"
    return new VirtualTimers(isTestClock ? c.unsafeCurrentTimeMillis() : 0)
  })

  now(): number {
    return this.time
  }

  /** A Clock on this time whose sleeps are `sleep` (a paused node's adds its gate). */
  clockWith(sleep: (ms: number) => Effect.Effect<void>): Clock.Clock {
    return {
      [Clock.ClockTypeId]: Clock.ClockTypeId,
      unsafeCurrentTimeMillis: () => this.time,
      currentTimeMillis: Effect.sync(() => this.time),
      unsafeCurrentTimeNanos: () => BigInt(this.time) * 1_000_000n,
      currentTimeNanos: Effect.sync(() => BigInt(this.time) * 1_000_000n),
      sleep: (duration) => sleep(Duration.toMillis(duration))
    }
  }

  /** Sleeps `ms` of virtual time; like the `TestClock`, a non-positive duration returns at once. */
  sleep(ms: number): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (!(ms > 0)) return resume(Effect.void)
      const s: Sleeper = { at: this.time + ms, seq: this.seq++, wake: () => resume(Effect.void) }
      this.sleepers.push(s)
      this.activity++
      return Effect.sync(() => {
        const i = this.sleepers.indexOf(s)
        if (i >= 0) {
          this.sleepers.splice(i, 1)
          this.activity++
        }
      })
    })
  }

  /** Lets every runnable fiber run until a whole round passes with no timer armed, cancelled or fired. */
  get settle(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
        const before = this.activity
        yield* macrotask
        if (this.activity === before) return
      }
      return yield* Effect.dieMessage(`the simulated cluster never went idle at t=${this.time} ms (a livelock)`)
    })
  }

  /** The earliest deadline of any sleeper (`Infinity` when none sleeps). */
  nextDeadline(): number {
    let next = Infinity
    for (const s of this.sleepers) if (s.at < next) next = s.at
    return next
  }

  /**
   * Moves time forward by `ms`: settles, then fires each deadline up to the target in order,
   * settling after each (see `step`).
   */
  advance(ms: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!(Number.isFinite(ms) && ms >= 0)) return Effect.dieMessage(`cannot advance time by ${ms} ms`)
      const target = this.time + ms
      return Effect.gen(this, function*() {
        yield* this.settle
        while (this.time < target || this.nextDeadline() <= target) yield* this.step(target)
      })
    })
  }

  /**
   * One move of time, never past `limit`: to the next deadline when it is due by `limit` — waking
   * every sleeper of that instant, in the order they slept, then settling — else to `limit`.
   * Nothing in the cluster happens between two deadlines, so a wait that checks its condition
   * after each step sees every state the cluster goes through. One driver at a time: a second
   * fiber moving time concurrently is a defect (the run would depend on how the two interleave).
   */
  step(limit: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.driving) return Effect.dieMessage("two fibers are advancing the simulated cluster's time at once")
      const next = this.nextDeadline()
      if (next > limit) {
        this.time = Math.max(this.time, limit)
        return Effect.void
      }
      this.driving = true
      this.time = Math.max(this.time, next)
      const due = this.sleepers.filter((s) => s.at <= this.time).sort((a, b) => a.at - b.at || a.seq - b.seq)
      this.sleepers = this.sleepers.filter((s) => s.at > this.time)
      this.activity++
      for (const s of due) s.wake()
      return Effect.ensuring(this.settle, Effect.sync(() => void (this.driving = false)))
    })
  }
}
