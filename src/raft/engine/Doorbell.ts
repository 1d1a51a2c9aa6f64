/**
 * How the engine's fiber waits for work: a ring (an input was queued, a frame arrived, a timer
 * fired) ends the wait. A ring that finds nobody waiting is remembered until the next wait or
 * `clear`, so one landing between the engine's last check and its parking is never lost.
 */
import { Effect } from "effect"

export class Doorbell {
  private waiter: (() => void) | undefined = undefined
  private rung = false

  /** Ends the current (or next) wait. */
  readonly ring = (): void => {
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w()
    } else {
      this.rung = true
    }
  }

  /** Forgets a ring nobody waited for (the engine re-checks its inputs and timers right after). */
  clear(): void {
    this.rung = false
  }

  /**
   * Completes at the next ring (at once if one is pending). No canceler: returning one makes
   * Effect wrap every wait in an interruption handler, and the engine waits here several times per
   * proposal. Only the engine's own fiber waits, and it is interrupted only when the node closes;
   * the waiter it leaves behind is then called at most once more, and Effect ignores a resume of
   * an interrupted wait.
   */
  readonly wait: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.rung) {
      this.rung = false
      resume(Effect.void)
      return
    }
    this.waiter = () => resume(Effect.void)
  })
}
