/**
 * What the conformance suites need from a test runner: `describe`, `it.scoped` / `it.scopedLive`
 * and an `expect` with four matchers. `@effect/vitest` has exactly this shape, so a suite is run by
 * passing its module:
 *
 * ```ts
 * import * as vitest from "@effect/vitest"
 * import { raftStorageConformance } from "kuilt/testing"
 *
 * raftStorageConformance(vitest, "MyStorage", { make: () => MyStorage.make() })
 * ```
 *
 * The suites take the runner as an argument instead of importing `@effect/vitest` themselves:
 * `kuilt/testing` also serves programs that run outside vitest (the simulator, the checker), and
 * importing `vitest` outside a vitest run throws. The shape is structural, so another runner with
 * the same methods (the in-page runner the browser suites use) works too.
 */
import type { Effect, Scope } from "effect"

/** The matchers the suites use; a subset of vitest's `Assertion`. */
export interface ConformanceMatchers {
  /** `Object.is` equality. */
  readonly toBe: (expected: unknown) => void
  /** Deep structural equality, as vitest's `toEqual`. */
  readonly toEqual: (expected: unknown) => void
  readonly toBeGreaterThan: (expected: number) => void
  readonly toBeNull: () => void
}

/** A test body: an Effect run in a fresh `Scope`, closed when the test ends. */
export type ScopedTest = <A, E>(name: string, body: () => Effect.Effect<A, E, Scope.Scope>, timeout?: number) => unknown

/**
 * The part of a test runner the conformance suites call. Satisfied by the `@effect/vitest` module
 * (`import * as vitest from "@effect/vitest"`).
 */
export interface ConformanceTestApi {
  /** Groups the tests registered by `body` under `name`. */
  readonly describe: (name: string, body: () => void) => unknown
  readonly it: {
    /** Registers a test on virtual time (`TestClock`), in a scope of its own. */
    readonly scoped: ScopedTest
    /** Registers a test on the real clock, in a scope of its own. */
    readonly scopedLive: ScopedTest
  }
  /** Starts an assertion on `actual`; `message` is shown when it fails. */
  readonly expect: (actual: unknown, message?: string) => ConformanceMatchers
}
