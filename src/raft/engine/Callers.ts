/**
 * Knowing when a caller waiting in the engine gives up, without a canceler per call.
 *
 * A caller waits in `Effect.async`. Returning a canceler from the registration makes Effect wrap
 * every call in an interruption handler (`onInterrupt`: a mask, a match, an exit), which costs
 * about as much as the rest of a propose round trip. Instead the engine watches the caller's
 * fiber: one exit observer per fiber (per engine), registered the first time the fiber calls and
 * kept for its life, plus the handles it is waiting for. A fiber suspended in `Effect.async` leaves
 * the wait without an answer only by being interrupted, and an interrupted fiber ends; when it
 * does, every handle it still waits for is given up (the engine then cancels it, as the canceler
 * did). The one difference: the cancellation arrives when the fiber has ended, after whatever
 * finalizers it runs, rather than at the moment of interruption.
 */
import { Fiber, Option } from "effect"

/** The handles one fiber is waiting for (almost always none or one). */
export class Watch {
  private one = -1
  private more: Set<number> | undefined = undefined

  constructor(private readonly gaveUp: (handle: number) => void) {}

  /** The fiber ended: every handle it still waited for is given up. */
  readonly onExit = (): void => {
    const one = this.one
    const more = this.more
    this.one = -1
    this.more = undefined
    if (one >= 0) this.gaveUp(one)
    if (more !== undefined) for (const h of more) this.gaveUp(h)
  }

  add(handle: number): void {
    if (this.one < 0) this.one = handle
    else (this.more ??= new Set()).add(handle)
  }

  /** `handle` was answered: no longer waited for. */
  release(handle: number): void {
    if (this.one === handle) this.one = -1
    else this.more?.delete(handle)
  }
}

export class Callers {
  private readonly watches = new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, Watch>()

  constructor(private readonly gaveUp: (handle: number) => void) {}

  /**
   * Records that the current fiber waits for `handle` (call it from an `Effect.async`
   * registration); `release` the returned watch when answering. `undefined` when no fiber is
   * running (never from inside an Effect): the caller then needs a canceler.
   */
  watch(handle: number): Watch | undefined {
    const fiber = Option.getOrUndefined(Fiber.getCurrentFiber())
    if (fiber === undefined) return undefined
    let w = this.watches.get(fiber)
    if (w === undefined) {
      w = new Watch(this.gaveUp)
      this.watches.set(fiber, w)
      fiber.addObserver(w.onExit)
    }
    w.add(handle)
    return w
  }
}
