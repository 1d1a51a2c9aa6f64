/** Page-side helpers: read the harness's params, report a result or an error. */
import { Effect } from "effect"

export const params = <A>(): A => (globalThis as { __kuiltParams?: A }).__kuiltParams as A

/**
 * Runs `program` and reports its value (or its failure) to the harness. The program's scope stays
 * open after the report (the page keeps serving its peers) until the browser closes the page.
 */
export const runPage = <A, E>(program: Effect.Effect<A, E>): void => {
  const g = globalThis as { __kuiltResult?: unknown; __kuiltError?: unknown }
  Effect.runFork(
    program.pipe(
      Effect.tap((value) => Effect.sync(() => void (g.__kuiltResult = value))),
      Effect.tapErrorCause((cause) => Effect.sync(() => void (g.__kuiltError = String(cause)))),
      Effect.zipRight(Effect.never)
    )
  )
}
