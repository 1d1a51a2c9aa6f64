/**
 * `runSimulation`: a simulated cluster for the length of one Effect, checked at the end.
 *
 * Deliberately not a vitest helper (`src/` must not depend on the test runner): it is a plain
 * Effect, so it runs under `it.effect`, `it.live`, `Effect.runPromise` or any other runner.
 */
import { Console, Effect } from "effect"
import type { Scope } from "effect"
import type { InvariantViolation } from "./errors.js"
import { SimulatedCluster } from "./SimulatedCluster.js"
import type { SimulatedCluster as Cluster, SimulatedClusterOptions } from "./SimulatedCluster.js"

/**
 * Starts a cluster with `options`, runs `body` on it, then `checkInvariants`, and stops the
 * cluster. Needs no `TestClock`: the cluster brings its own virtual time (see `VirtualTimers`).
 *
 * Failures: whatever `body` fails with, or `InvariantViolation` from the final check. Failures of
 * the cluster's waits and checks carry the dump already; for any other failure (a failed
 * `expect`, say) the dump is written to the console before the failure propagates unchanged.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { runSimulation } from "kuilt/testing"
 *
 * it.effect("five nodes survive a minority partition", () =>
 *   runSimulation({ size: 5, seed: 3 }, (cluster) =>
 *     Effect.gen(function*() {
 *       const leader = yield* cluster.awaitLeader()
 *       yield* cluster.partition(cluster.ids.filter((id) => id !== leader).slice(0, 2))
 *       const entry = yield* cluster.proposeOnLeader(new TextEncoder().encode("x"))
 *       yield* cluster.heal
 *       yield* cluster.awaitCommit(entry.index)
 *     })))
 * ```
 */
export const runSimulation = <S = undefined, A = void, E = never, R = never>(
  options: SimulatedClusterOptions<S>,
  body: (cluster: Cluster<S>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvariantViolation, Exclude<R, Scope.Scope>> =>
  Effect.scoped(
    Effect.gen(function*() {
      const cluster = yield* SimulatedCluster.make(options)
      const result = yield* body(cluster).pipe(
        Effect.tapErrorCause(() =>
          Effect.flatMap(cluster.dumpState("the simulation body failed"), (dump) => Console.error(dump))
        )
      )
      yield* cluster.checkInvariants
      return result
    })
  )
