/**
 * The bounded waits of the simulated cluster, on its virtual time (`VirtualTimers`).
 *
 * A wait checks its condition after every instant at which something happens — it moves time to
 * the next timer deadline, lets the cluster settle, checks again — until the condition holds or
 * the bound is spent. Nothing happens between two deadlines, so no state the cluster goes
 * through is missed, and a wait ends at the exact instant its condition first holds. Time never
 * moves by itself: anything that needs time to pass (a proposal over a slow link, a read fence, an
 * election) needs a wait or `drive` around it. The first check comes after a settle, so a
 * condition that already holds costs no virtual time.
 */
import { Effect, Fiber, Option } from "effect"
import { SimulationTimeout } from "./errors.js"
import type { VirtualTimers } from "./VirtualTimers.js"

/** How a cluster drives time: its timers and the dump attached to timeouts. */
export interface Driver {
  readonly timers: VirtualTimers
  readonly dump: (reason: string) => Effect.Effect<string>
}

const checkBound = (ms: number, what: string): Effect.Effect<void> =>
  Number.isFinite(ms) && ms >= 0 ? Effect.void : Effect.dieMessage(`${what}: expected a finite duration ≥ 0 ms, got ${ms}`)

/** Advances virtual time by exactly `ms`, firing every timer due on the way. */
export const advance = (driver: Driver, ms: number): Effect.Effect<void> =>
  Effect.zipRight(checkBound(ms, "settle"), driver.timers.advance(ms))

/**
 * Steps time until `condition` holds; fails with `SimulationTimeout` (and the dump) when it still
 * does not after `within` virtual ms.
 */
export const awaitTrue = <E, R>(
  driver: Driver,
  condition: Effect.Effect<boolean, E, R>,
  within: number,
  what: string
): Effect.Effect<void, E | SimulationTimeout, R> =>
  Effect.gen(function*() {
    yield* checkBound(within, what)
    const timers = driver.timers
    yield* timers.settle
    const end = timers.now() + within
    while (!(yield* condition)) {
      if (timers.now() >= end) {
        const dump = yield* driver.dump(`timed out waiting for ${what}`)
        return yield* new SimulationTimeout({ what, withinMs: within, dump })
      }
      yield* timers.step(end)
    }
  })

/**
 * Runs `effect` while stepping time, for at most `within` virtual ms: its own outcome, or
 * `SimulationTimeout` (the effect is interrupted).
 */
export const drive = <A, E, R>(
  driver: Driver,
  effect: Effect.Effect<A, E, R>,
  within: number,
  what: string
): Effect.Effect<A, E | SimulationTimeout, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    const done = Effect.map(Fiber.poll(fiber), Option.isSome)
    yield* Effect.onError(awaitTrue(driver, done, within, what), () => Fiber.interrupt(fiber))
    return yield* Fiber.join(fiber)
  })
