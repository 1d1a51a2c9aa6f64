/**
 * How an idle engine waits: parked on its doorbell, with at most one timer fiber serving the core's
 * next deadline. The timer is re-armed only when the deadline moves earlier than the armed one —
 * not a fiber race and a fresh timer per wait. A timer that fires early (its deadline has since
 * moved later) merely wakes the loop, which finds nothing due and parks again.
 */
import { Effect } from "effect"
import type { Clock, Fiber } from "effect"
import type { Doorbell } from "./Doorbell.js"

export class WakeTimer {
  /** The armed timer fiber, its due time (`Infinity`: none) and a generation that retires stale ones. */
  private timer: Fiber.RuntimeFiber<void> | undefined = undefined
  private timerAt = Infinity
  private timerGen = 0

  constructor(
    private readonly doorbell: Pick<Doorbell, "ring" | "wait">,
    /** The engine's clock (the `TestClock` in tests). */
    private readonly clock: Clock.Clock
  ) {}

  /** Waits for a ring or for `deadline` (an absolute Clock time; `Infinity`: no timer). */
  park(deadline: number): Effect.Effect<void> {
    if (deadline >= this.timerAt || deadline === Infinity) return this.doorbell.wait
    return Effect.zipRight(this.arm(deadline), this.doorbell.wait)
  }

  /**
   * Forks the fiber that wakes the engine at `at`, retiring the previous one. The sleep comes from
   * the Clock in context (`TestClock` in tests) and its length is read when the fiber starts, so a
   * clock adjusted in between cannot push the wake-up past `at`.
   */
  private arm(at: number): Effect.Effect<void> {
    const gen = ++this.timerGen
    this.timerAt = at
    const clock = this.clock
    const fire = Effect.suspend(() => {
      const left = at - clock.unsafeCurrentTimeMillis()
      return left > 0 ? Effect.sleep(left) : Effect.void
    }).pipe(
      Effect.zipRight(Effect.sync(() => {
        if (this.timerGen !== gen) return
        this.timer = undefined
        this.timerAt = Infinity
        this.doorbell.ring()
      }))
    )
    return Effect.map(Effect.fork(fire), (fiber) => {
      const old = this.timer
      this.timer = fiber
      if (old !== undefined) old.unsafeInterruptAsFork(fiber.id())
    })
  }
}
