/**
 * The fabric side of the Seam conformance suite: what a fabric must provide (`FabricFactory`) and
 * how the suite waits on it (`Waits`), for virtual-time and real-time fabrics alike.
 */
import type { Scope } from "effect"
import { Duration, Effect, Fiber, Option, TestClock } from "effect"
import type { SeamShape } from "../../../services/seam/Seam.js"

/** What the suite asks of a fabric when weaving. */
export interface FabricOptions {
  /** Ask for this payload budget (the base budget, before any view's header). */
  readonly maxPayloadBytes?: number
}

/** `n` seams of one woven session. */
export interface Fabric {
  readonly seams: ReadonlyArray<SeamShape>
  /**
   * Tears seam `index` the way the fabric loses a peer (a crash, a dropped connection). Defaults to
   * `seams[index].close(CloseReason.Unreachable())`.
   */
  readonly tear?: (index: number) => Effect.Effect<void>
}

/**
 * How the suite obtains seams from a fabric. Satisfiable by a loom (host one, join the rest), by
 * channel views over a loom (`reservedBytes` = the view's header) or by a real-network fabric
 * (`timing: "live"`).
 */
export interface FabricFactory {
  /** `"virtual"`: runs under `TestClock`; `"live"`: runs on real time. */
  readonly timing: "virtual" | "live"
  /**
   * Weaves `n` (2..4) seams of one session in the test's scope. With `maxPayloadBytes`, the base
   * fabric enforces that budget.
   */
  readonly make: (n: number, options: FabricOptions) => Effect.Effect<Fabric, never, Scope.Scope>
  /** Header bytes a view reserves out of the base budget (default 0). */
  readonly reservedBytes?: number
  /** What `maxPayloadBytes` reads when no budget was asked for (default `None`: unknown). */
  readonly defaultBudget?: Option.Option<number>
  /**
   * Whether frames sent before the receiver starts collecting are kept (default true). Some views
   * lose them by design (best effort); they set this to false and skip that case.
   */
  readonly buffersBeforeCollect?: boolean
}

/** Waiting helpers bound to a fabric's timing. */
export interface Waits {
  /** Retries `check` (advancing virtual time or sleeping a little) until true; dies when it never is. */
  readonly until: (what: string, check: Effect.Effect<boolean>) => Effect.Effect<void>
  /** Joins `fiber`, driving time while it runs; dies when it never finishes. */
  readonly join: <A, E>(what: string, fiber: Fiber.Fiber<A, E>) => Effect.Effect<A, E>
  /** Lets `steps` ms (virtual) or `2 × steps` ms (live) pass, so pending work can run. */
  readonly pass: (steps: number) => Effect.Effect<void>
}

/** The waiting helpers for `timing`; each wait is bounded and dies with a message when exceeded. */
export const makeWaits = (timing: FabricFactory["timing"]): Waits => {
  // Virtual: most work needs no time at all, so yield first (cheap); then advance the TestClock in
  // 10 ms steps (each `adjust` costs a few real ms) up to 3 s of virtual time. Live: 2 ms sleeps
  // up to 5 s of real time. Both fail well inside vitest's timeout, with a message.
  const virtual = timing === "virtual"
  const step = (attempt: number) =>
    virtual
      ? attempt < 100 ? Effect.yieldNow() : TestClock.adjust(Duration.millis(10))
      : Effect.sleep(Duration.millis(2))
  const limit = virtual ? 400 : 2_500
  const until = (what: string, check: Effect.Effect<boolean>) =>
    Effect.gen(function*() {
      for (let i = 0; i < limit; i++) {
        if (yield* check) return
        yield* step(i)
      }
      return yield* Effect.dieMessage(`conformance: timed out waiting until ${what}`)
    })
  const join = <A, E>(what: string, fiber: Fiber.Fiber<A, E>) =>
    Effect.zipRight(until(what, Effect.map(Fiber.poll(fiber), Option.isSome)), Fiber.join(fiber))
  const pass = (steps: number) =>
    virtual
      ? Effect.zipRight(TestClock.adjust(Duration.millis(steps)), Effect.repeatN(Effect.yieldNow(), 20))
      : Effect.sleep(Duration.millis(2 * steps))
  return { until, join, pass }
}
