/**
 * Waiting on observable state without polling: the first value of a `Subscribable` (current, then
 * every change) for which a function returns something.
 */
import { Effect, Option, Stream } from "effect"
import type { Subscribable } from "effect"

/** Waits until `f(value)` is not `undefined` and returns it. Never fails. */
export const awaitValue = <A, B>(source: Subscribable.Subscribable<A>, f: (a: A) => B | undefined): Effect.Effect<B> =>
  source.changes.pipe(
    Stream.filterMap((a) => Option.fromNullable(f(a))),
    Stream.runHead,
    // Subscribables of the node and the presence map never end while their owner lives; if the
    // owner closes, waiting forever is right: the caller's scope is what ends the wait.
    Effect.flatMap(Option.match({ onNone: () => Effect.never, onSome: Effect.succeed }))
  )

/** Completes at the first change of `source` after the value `seen`. */
export const awaitChange = <A>(source: Subscribable.Subscribable<A>, seen: A): Effect.Effect<void> =>
  Effect.asVoid(awaitValue(source, (a) => (a === seen ? undefined : true)))
