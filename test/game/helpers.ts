/**
 * Game tests on virtual time: players over one InMemoryLoom, each with its own Scope (closing it
 * is a crash) and its own seeded Random, started through the public API; helpers that advance the
 * TestClock until forked work completes, with a bound so a failure never hangs.
 */
import { Chunk, Effect, Exit, Fiber, Option, Random, Scope, Stream, TestClock } from "effect"
import type { SeamShape } from "../../src/index.js"
import { DeliveryPolicy, InMemoryLoom } from "../../src/index.js"
import type { GameOptions } from "../../src/index.js"

export const FAST: GameOptions = {
  config: { electionTimeoutMin: 50, electionTimeoutMax: 100, heartbeatInterval: 10 },
  announceEvery: "20 millis"
}

export type Loom = Effect.Effect.Success<ReturnType<typeof InMemoryLoom.make>>

export const makeLoom = (seed = 7, maxPayloadBytes?: number) =>
  InMemoryLoom.make({
    policy: DeliveryPolicy.lossy(4096),
    seed,
    ...(maxPayloadBytes === undefined ? {} : { maxPayloadBytes })
  })

export interface Player {
  readonly id: string
  readonly seam: SeamShape
  readonly scope: Scope.CloseableScope
  readonly seed: number
}

/** Weaves `id`'s seam in a fresh scope of its own (the first player hosts the loom session). */
export const weave = (loom: Loom, id: string, seed: number, hostSession = false) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const seam = yield* (hostSession
      ? loom.host({ sessionName: "game", peerKey: id, maxPeers: 16 })
      : loom.join({ sessionName: "game", peerKey: id })).pipe(Scope.extend(scope))
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    return { id, seam, scope, seed } satisfies Player
  })

/** Weaves every id (the first hosts the loom session). */
export const weaveAll = (loom: Loom, ids: ReadonlyArray<string>) =>
  Effect.forEach(ids, (id, i) => weave(loom, id, 100 + i, i === 0))

/** Runs `start` for `player` in its scope with its own seeded Random, forked. */
export const startIn = <A, E>(player: Player, start: (seam: SeamShape) => Effect.Effect<A, E, Scope.Scope>) =>
  start(player.seam).pipe(
    Scope.extend(player.scope),
    Effect.withRandom(Random.make(player.seed)),
    Effect.fork
  )

type SuccessOf<F> = F extends Fiber.Fiber<infer A, infer _E> ? A : never
type FailureOf<F> = F extends Fiber.Fiber<infer _A, infer E> ? E : never

/** Virtual time advanced per step (finer than every Raft and presence timer used here). */
const STEP_MS = 5

/** Advances virtual time in small steps until every fiber is done; dies after `maxMs`. */
export const settle = <F extends Fiber.Fiber<any, any>>(fibers: ReadonlyArray<F>, maxMs: number, what: string) =>
  Effect.gen(function*() {
    for (let t = 0; t <= maxMs; t += STEP_MS) {
      let done = true
      for (const f of fibers) if (Option.isNone(yield* Fiber.poll(f))) done = false
      if (done) {
        return yield* Effect.forEach(
          fibers,
          (f) => Fiber.await(f) as Effect.Effect<Exit.Exit<SuccessOf<F>, FailureOf<F>>>
        )
      }
      yield* TestClock.adjust(STEP_MS)
    }
    return yield* Effect.dieMessage(`timed out after ${maxMs} virtual ms waiting for ${what}`)
  })

/** `settle` for one fiber, returning its exit. */
export const settleOne = <A, E>(fiber: Fiber.Fiber<A, E>, maxMs: number, what: string) =>
  Effect.map(settle([fiber], maxMs, what), (exits): Exit.Exit<A, E> => exits[0]!)

/** Advances virtual time until `predicate` holds; dies after `maxMs`. */
export const advanceUntil = <E>(predicate: Effect.Effect<boolean, E>, maxMs: number, what: string) =>
  Effect.gen(function*() {
    for (let t = 0; t <= maxMs; t += STEP_MS) {
      if (yield* predicate) return
      yield* TestClock.adjust(STEP_MS)
    }
    return yield* Effect.dieMessage(`timed out after ${maxMs} virtual ms waiting for ${what}`)
  })

/** The value of a successful exit, or a defect describing the failure. */
export const valueOf = <A, E>(exit: Exit.Exit<A, E>): Effect.Effect<A> =>
  Exit.isSuccess(exit) ? Effect.succeed(exit.value) : Effect.dieMessage(`expected success, got ${String(exit.cause)}`)

/** The first `n` committed actions a sequencer delivers (advancing virtual time; bounded). */
export const firstActions = <A>(
  events: Stream.Stream<{ readonly _tag: "Committed"; readonly indexed: { readonly action: A } } | { readonly _tag: "Reset" }>,
  n: number,
  maxMs = 2000
) =>
  Effect.gen(function*() {
    const fiber = yield* events.pipe(
      Stream.filterMap((e) => (e._tag === "Committed" ? Option.some(e.indexed.action) : Option.none())),
      Stream.take(n),
      Stream.runCollect,
      Effect.fork
    )
    return Chunk.toReadonlyArray(yield* valueOf(yield* settleOne(fiber, maxMs, `${n} committed actions`)))
  })
