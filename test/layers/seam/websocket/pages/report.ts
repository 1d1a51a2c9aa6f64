/** Page-side helpers: read the harness's params, publish progress, report a result or an error. */
import { Effect } from "effect"
import type { Scope } from "effect"

type Slots = { __kuiltParams?: unknown; __kuiltResult?: unknown; __kuiltError?: unknown; __kuiltProgress?: unknown }
const g = globalThis as Slots

export const params = <A>(): A => g.__kuiltParams as A

/**
 * Publishes what the page is doing now (any JSON value). The harness never waits on it; it quotes
 * the latest value when the page does not report in time, so a timeout says where the page was.
 */
export const progress = (state: unknown): void => {
  g.__kuiltProgress = state
}

/**
 * Runs `program` and reports its value (or its failure) to the harness. The program's scope stays
 * open after the report, so what it started (a Raft node, a room) keeps serving its peers until
 * the browser closes the page: a Node peer may learn the last commit from this page after the
 * page itself reported. The page sets no deadline of its own: the test bounds its wait for the
 * report, and a timer in the page would also count the time other pages took to start.
 */
export const runPage = <A, E>(program: Effect.Effect<A, E, Scope.Scope>): void => {
  Effect.runFork(
    program.pipe(
      Effect.tap((value) => Effect.sync(() => void (g.__kuiltResult = value))),
      Effect.tapErrorCause((cause) => Effect.sync(() => void (g.__kuiltError = String(cause)))),
      Effect.zipRight(Effect.never),
      Effect.scoped
    )
  )
}
