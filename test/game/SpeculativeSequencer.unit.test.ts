/**
 * SpeculativeSequencer against a scripted TurnSequencer: commits and proposal answers arrive in
 * exactly the order a test chooses, including orders a live cluster rarely produces (a commit
 * before its `propose` returns, the same key committed twice).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Queue, Schema, Stream } from "effect"
import { ClientId, SpeculativeSequencer } from "../../src/index.js"
import type { DedupKey, IndexedAction, RaftNodeShape, TurnEvent, TurnSequencer } from "../../src/index.js"

const me = Schema.decodeSync(ClientId)("me")
const other = Schema.decodeSync(ClientId)("other")
const key = (clientId: typeof me, requestId: number): DedupKey => ({ clientId, requestId })

const scripted = Effect.gen(function*() {
  const events = yield* Queue.unbounded<TurnEvent<string>>()
  const answers = yield* Queue.unbounded<Deferred.Deferred<IndexedAction<string>>>()
  const sequencer: TurnSequencer<string> = {
    node: { clientId: Effect.succeed(me) } as unknown as RaftNodeShape,
    events: Stream.fromQueue(events),
    eventsFrom: () => Stream.fromQueue(events),
    encode: (a) => Either.right(new TextEncoder().encode(JSON.stringify(a))),
    stats: { undecodable: 0 },
    propose: () =>
      Effect.flatMap(Deferred.make<IndexedAction<string>>(), (d) => Effect.zipRight(Queue.offer(answers, d), Deferred.await(d)))
  }
  const commit = (index: number, action: string, k: DedupKey) =>
    Queue.offer(events, { _tag: "Committed", indexed: { index, action, dedupKey: k } })
  return { sequencer, commit, answers }
})

const game = { apply: (s: ReadonlyArray<string>, a: string) => [...s, a], fromSnapshot: () => undefined }

describe("SpeculativeSequencer (scripted commits)", () => {
  it.scoped("our commit arriving before propose returns confirms the pending entry once", () =>
    Effect.gen(function*() {
      const { answers, commit, sequencer } = yield* scripted
      const spec = yield* SpeculativeSequencer.make(sequencer, game, [] as ReadonlyArray<string>)
      const proposal = yield* Effect.fork(spec.propose("a"))
      const answer = yield* Queue.take(answers)
      yield* commit(2, "a", key(me, 1))
      yield* spec.awaitConfirmedCount(1)
      expect(yield* spec.view.get).toEqual({ speculative: ["a"], confirmed: ["a"], confirmedCount: 1, pendingCount: 0 })
      yield* Deferred.succeed(answer, { index: 2, action: "a", dedupKey: key(me, 1) })
      yield* Fiber.join(proposal)
      expect(yield* spec.view.get).toEqual({ speculative: ["a"], confirmed: ["a"], confirmedCount: 1, pendingCount: 0 })
    }))

  it.scoped("a key committed twice is applied once, and others' commits replay our pending actions on top", () =>
    Effect.gen(function*() {
      const { answers, commit, sequencer } = yield* scripted
      const spec = yield* SpeculativeSequencer.make(sequencer, game, [] as ReadonlyArray<string>)
      yield* commit(2, "x", key(other, 1))
      yield* commit(3, "x", key(other, 1))
      yield* spec.awaitConfirmedCount(1)
      const proposal = yield* Effect.fork(spec.propose("b"))
      const answer = yield* Queue.take(answers)
      yield* Deferred.succeed(answer, { index: 5, action: "b", dedupKey: key(me, 1) })
      yield* Fiber.join(proposal)
      // Answered but not yet committed: still pending; another peer's commit goes beneath it.
      yield* commit(4, "y", key(other, 2))
      yield* spec.awaitConfirmedCount(2)
      expect(yield* spec.view.get).toEqual({
        speculative: ["x", "y", "b"],
        confirmed: ["x", "y"],
        confirmedCount: 2,
        pendingCount: 1
      })
      yield* commit(5, "b", key(me, 1))
      yield* spec.awaitConfirmedCount(3)
      expect(yield* spec.view.get).toEqual({
        speculative: ["x", "y", "b"],
        confirmed: ["x", "y", "b"],
        confirmedCount: 3,
        pendingCount: 0
      })
      expect(spec.stats.duplicates).toBe(1)
    }))
})
