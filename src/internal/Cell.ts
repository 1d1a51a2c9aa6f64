/**
 * A `Subscribable` value the engine sets synchronously from inside its turn: `get` reads the
 * current value, `changes` emits the value at subscription and then every later `set`, in order,
 * without dropping (each subscriber has its own unbounded queue) — what `SubscriptionRef` offers,
 * without its semaphore and PubSub round trip (~5 µs per `SubscriptionRef.set`, paid on every turn
 * that moves the commit index).
 *
 * Only the engine's fiber calls `set`; reading the value and registering a subscriber happen in one
 * synchronous step, so a subscriber never misses a change nor sees one twice.
 */
import { Effect, Queue, Readable, Stream, Subscribable } from "effect"
import { pipeArguments } from "effect/Pipeable"

export class Cell<A> implements Subscribable.Subscribable<A> {
  readonly [Readable.TypeId]: Readable.TypeId = Readable.TypeId
  readonly [Subscribable.TypeId]: Subscribable.TypeId = Subscribable.TypeId
  private current: A
  private readonly subscribers = new Set<Queue.Queue<A>>()

  constructor(initial: A) {
    this.current = initial
  }

  /** The current value, read synchronously (engine side). */
  get value(): A {
    return this.current
  }

  /** Sets the value and hands it to every subscriber. */
  set(value: A): void {
    this.current = value
    for (const q of this.subscribers) Queue.unsafeOffer(q, value)
  }

  readonly get: Effect.Effect<A> = Effect.sync(() => this.current)

  readonly changes: Stream.Stream<A> = Stream.unwrapScoped(
    Effect.map(
      Effect.acquireRelease(
        Effect.flatMap(Queue.unbounded<A>(), (queue) =>
          Effect.sync(() => {
            this.subscribers.add(queue)
            return { queue, first: this.current }
          })),
        ({ queue }) =>
          Effect.suspend(() => {
            this.subscribers.delete(queue)
            return Queue.shutdown(queue)
          })
      ),
      ({ first, queue }) => Stream.concat(Stream.succeed(first), Stream.fromQueue(queue))
    )
  )

  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}
