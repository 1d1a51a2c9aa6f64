import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Schema, Stream } from "effect"
import { ActionEncodeError, gameNode, TurnSequencer } from "../../src/index.js"
import type { TurnEvent } from "../../src/index.js"
import { advanceUntil, FAST, firstActions, makeLoom, settleOne, startIn, valueOf, weaveAll } from "./helpers.js"

const Move = Schema.Struct({ cell: Schema.Number.pipe(Schema.int(), Schema.between(0, 8)), mark: Schema.Literal("X", "O") })
type Move = typeof Move.Type

/** A one-voter game (it elects itself), for sequencer behaviour without a network in the way. */
const solo = Effect.gen(function*() {
  const loom = yield* makeLoom()
  const [p] = yield* weaveAll(loom, ["solo"])
  const session = yield* valueOf(
    yield* settleOne(yield* startIn(p!, (seam) => gameNode(seam, ["solo"], FAST)), 100, "session")
  )
  yield* valueOf(yield* settleOne(yield* Effect.fork(session.node.awaitLeadership), 1000, "leadership"))
  return session
})

/** Runs `effect` forked while virtual time advances; its exit. */
const run = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.fork(effect), (f) => settleOne(f, 1000, "a proposal"))

/** The first `n` events of a stream, with virtual time advancing. */
const firstEvents = <A>(events: Stream.Stream<TurnEvent<A>>, n: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(events, n)))
    return Chunk.toReadonlyArray(yield* valueOf(yield* settleOne(fiber, 1000, `${n} events`)))
  })

describe("TurnSequencer", () => {
  it.scoped("events deliver each committed action with its index and dedup key, skipping Raft's own entries", () =>
    Effect.gen(function*() {
      const session = yield* solo
      const seq = TurnSequencer.make(session.node, Move)
      const a = yield* valueOf(yield* run(seq.propose({ cell: 4, mark: "X" })))
      const b = yield* valueOf(yield* run(seq.propose({ cell: 0, mark: "O" })))
      // Index 1 is the leader's no-op, which is not an action: the first action is at index 2.
      expect([a.index, b.index]).toEqual([2, 3])
      expect(b.dedupKey.clientId).toBe(a.dedupKey.clientId)
      expect(b.dedupKey.requestId).toBeGreaterThan(a.dedupKey.requestId)
      const events = yield* firstEvents(seq.events, 2)
      expect(events).toEqual([
        { _tag: "Committed", indexed: a },
        { _tag: "Committed", indexed: b }
      ])
    }))

  it.scoped("a committed command that does not decode is skipped and counted, not fatal", () =>
    Effect.gen(function*() {
      const session = yield* solo
      const seq = TurnSequencer.make(session.node, Move)
      // A foreign writer on the same node: bytes that are not a Move, then bytes that are not UTF-8.
      yield* valueOf(yield* run(session.node.propose(new TextEncoder().encode(`{"cell":42,"mark":"X"}`))))
      yield* valueOf(yield* run(session.node.propose(Uint8Array.of(0xff, 0xfe))))
      const good = yield* valueOf(yield* run(seq.propose({ cell: 8, mark: "O" })))
      expect(yield* firstActions(seq.events, 1)).toEqual([good.action])
      expect(seq.stats.undecodable).toBe(2)
    }))

  it.scoped("an action the schema refuses fails with ActionEncodeError and proposes nothing", () =>
    Effect.gen(function*() {
      const session = yield* solo
      const seq = TurnSequencer.make(session.node, Move)
      const before = yield* session.node.commitIndex.get
      const exit = yield* run(seq.propose({ cell: 9, mark: "X" } as Move))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error instanceof ActionEncodeError)
        .toBe(true)
      expect(yield* session.node.commitIndex.get).toBe(before)
    }))

  it.scoped("a reader starting below the compaction floor gets Reset with the snapshot, then the later actions", () =>
    Effect.gen(function*() {
      const session = yield* solo
      const seq = TurnSequencer.make(session.node, Move)
      yield* valueOf(yield* run(seq.propose({ cell: 0, mark: "X" })))
      const b = yield* valueOf(yield* run(seq.propose({ cell: 1, mark: "O" })))
      const state = new TextEncoder().encode("XO.......")
      yield* session.node.publishSnapshot({ throughIndex: b.index, state })
      yield* advanceUntil(Effect.map(session.node.compactionFloor.get, (f) => f === b.index), 500, "compaction")
      const c = yield* valueOf(yield* run(seq.propose({ cell: 2, mark: "X" })))
      const events = yield* firstEvents(seq.events, 2)
      expect(events).toEqual([
        { _tag: "Reset", snapshot: { throughIndex: b.index, state } },
        { _tag: "Committed", indexed: c }
      ])
    }))
})
