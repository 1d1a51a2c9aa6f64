import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Schema, Stream } from "effect"
import { ClientId, ClientIdentity, committedIndex, gameNode, SpeculativeSequencer, TurnSequencer } from "../../src/index.js"
import type { GameOptions, GameSessionShape, SpeculativeGame } from "../../src/index.js"
import type { Loom } from "./helpers.js"
import { advanceUntil, FAST, makeLoom, settle, settleOne, startIn, valueOf, weaveAll } from "./helpers.js"

type Log = ReadonlyArray<string>

/** The game: the list of moves in order (order matters, so a wrong replay shows). */
const game: SpeculativeGame<Log, string> = {
  apply: (state, action) => [...state, action],
  fromSnapshot: (bytes) => {
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes))
      return Array.isArray(parsed) && parsed.every((x) => typeof x === "string") ? parsed : undefined
    } catch {
      return undefined
    }
  }
}

const ids = ["p1", "p2", "p3"]

const startGame = (loom: Loom, roster: ReadonlyArray<string>, options: (id: string) => GameOptions = () => FAST) =>
  Effect.gen(function*() {
    const players = yield* weaveAll(loom, roster)
    const fibers = yield* Effect.forEach(players, (p) => startIn(p, (seam) => gameNode(seam, roster, options(p.id))))
    const sessions = yield* Effect.forEach(yield* settle(fibers, 100, "sessions"), valueOf)
    yield* advanceUntil(
      Effect.map(Effect.forEach(sessions, (s) => s.node.role.get), (roles) => roles.includes("Leader")),
      2000,
      "a leader"
    )
    return sessions
  })

const leaderOf = (sessions: ReadonlyArray<GameSessionShape>) =>
  Effect.gen(function*() {
    for (const s of sessions) if ((yield* s.node.role.get) === "Leader") return s
    return yield* Effect.dieMessage("no leader")
  })

const speculate = (s: GameSessionShape) => SpeculativeSequencer.make(TurnSequencer.make(s.node, Schema.String), game, [] as Log)

describe("SpeculativeSequencer", () => {
  it.scoped("a proposal shows at once in the speculative state and is confirmed when its commit arrives", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const sessions = yield* startGame(loom, ids)
      // Slow links, so the commit takes a while.
      yield* loom.faults.setConditions({ latencyMs: 30 })
      const spec = yield* speculate(sessions[0]!)
      const proposal = yield* Effect.fork(spec.propose("e4"))
      yield* advanceUntil(Effect.map(spec.pendingCount.get, (n) => n === 1), 10, "the speculative apply")
      expect(yield* spec.speculative.get).toEqual(["e4"])
      expect(yield* spec.confirmed.get).toEqual([])
      const indexed = yield* valueOf(yield* settleOne(proposal, 1000, "the commit"))
      yield* valueOf(yield* settleOne(yield* Effect.fork(spec.awaitConfirmedCount(1)), 500, "confirmation"))
      expect(indexed.action).toBe("e4")
      expect(yield* spec.view.get).toEqual({ speculative: ["e4"], confirmed: ["e4"], confirmedCount: 1, pendingCount: 0 })
    }))

  it.scoped("a failed or abandoned proposal is rolled back", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom(7, 400)
      const sessions = yield* startGame(loom, ids)
      const leader = yield* leaderOf(sessions)
      const follower = sessions.find((s) => s !== leader)!
      const spec = yield* speculate(follower)
      // Too large for a frame: refused before anything enters the log.
      const tooBig = yield* settleOne(yield* Effect.fork(spec.propose("x".repeat(500))), 100, "the refusal")
      expect(Exit.isFailure(tooBig)).toBe(true)
      expect(yield* spec.view.get).toEqual({ speculative: [], confirmed: [], confirmedCount: 0, pendingCount: 0 })
      // Cut off from everyone, the proposal cannot commit; the caller gives up.
      yield* loom.faults.isolate(follower.selfId)
      const stuck = yield* Effect.fork(spec.propose("lost"))
      yield* advanceUntil(Effect.map(spec.pendingCount.get, (n) => n === 1), 10, "the speculative apply")
      expect(yield* spec.speculative.get).toEqual(["lost"])
      yield* Fiber.interrupt(stuck)
      expect(yield* spec.view.get).toEqual({ speculative: [], confirmed: [], confirmedCount: 0, pendingCount: 0 })
      expect(spec.stats.rollbacks).toBe(2)
    }))

  it.scoped("another peer's commit lands beneath a pending action, which is replayed on top, then confirmed", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const sessions = yield* startGame(loom, ids)
      const leader = yield* leaderOf(sessions)
      const slow = sessions.find((s) => s !== leader)!
      // The slow peer's frames to the leader (its forwarded proposal) take 300 ms; everything else is instant.
      yield* loom.faults.setLinkConditions(slow.selfId, leader.selfId, { latencyMs: 300 })
      const mine = yield* speculate(slow)
      const theirs = yield* speculate(leader)
      const myProposal = yield* Effect.fork(mine.propose("mine"))
      yield* advanceUntil(Effect.map(mine.pendingCount.get, (n) => n === 1), 10, "the speculative apply")
      yield* valueOf(yield* settleOne(yield* Effect.fork(theirs.propose("theirs")), 200, "the leader's move"))
      yield* advanceUntil(Effect.map(mine.confirmedCount.get, (n) => n === 1), 200, "the leader's move to reach the slow peer")
      // Confirmed holds only the commit; the pending move is replayed over it.
      expect(yield* mine.view.get).toEqual({
        speculative: ["theirs", "mine"],
        confirmed: ["theirs"],
        confirmedCount: 1,
        pendingCount: 1
      })
      yield* valueOf(yield* settleOne(myProposal, 1000, "the slow proposal"))
      yield* advanceUntil(Effect.map(mine.pendingCount.get, (n) => n === 0), 200, "confirmation")
      expect(yield* mine.confirmed.get).toEqual(["theirs", "mine"])
      expect(yield* mine.speculative.get).toEqual(["theirs", "mine"])
      yield* advanceUntil(Effect.map(theirs.confirmedCount.get, (n) => n === 2), 200, "the leader to confirm both")
      expect(yield* theirs.confirmed.get).toEqual(["theirs", "mine"])
    }))

  it.scoped("a Reset rebuilds the confirmed state from the snapshot", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [solo] = yield* startGame(loom, ["solo"])
      const seq = TurnSequencer.make(solo!.node, Schema.String)
      yield* valueOf(yield* settleOne(yield* Effect.fork(seq.propose("a")), 500, "a"))
      const b = yield* valueOf(yield* settleOne(yield* Effect.fork(seq.propose("b")), 500, "b"))
      // The snapshot's state differs from replaying a, b: the rebuilt state shows where it came from.
      yield* solo!.node.publishSnapshot({
        throughIndex: b.index,
        state: new TextEncoder().encode(JSON.stringify(["from-snapshot"]))
      })
      yield* advanceUntil(Effect.map(solo!.node.compactionFloor.get, (f) => f === b.index), 500, "compaction")
      yield* valueOf(yield* settleOne(yield* Effect.fork(seq.propose("c")), 500, "c"))
      const spec = yield* SpeculativeSequencer.make(seq, game, ["initial"] as Log)
      yield* valueOf(yield* settleOne(yield* Effect.fork(spec.awaitConfirmedCount(1)), 500, "replay"))
      expect(yield* spec.confirmed.get).toEqual(["from-snapshot", "c"])
      expect(spec.stats.resets).toBe(1)
    }))

  it.scoped("a retried request is applied once and its pending entry is confirmed, across a leader change", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const identity = ClientIdentity.Durable({ clientId: yield* Schema.decode(ClientId)("table-1") })
      const sessions = yield* startGame(loom, ids, (id) => (id === "p1" ? { ...FAST, identity } : FAST))
      const p1 = sessions[0]!
      const spec = yield* speculate(p1)
      const first = yield* valueOf(
        yield* settleOne(yield* Effect.fork(spec.propose("once", { requestId: 7 })), 1000, "first")
      )
      const leader = yield* leaderOf(sessions)
      const target = sessions.find((s) => s !== leader)!
      yield* valueOf(
        yield* settleOne(yield* Effect.fork(leader.node.transferLeadership(target.node.id)), 1000, "transfer")
      )
      // The retry (same request id) is answered with the first entry; nothing new commits for it,
      // so the sequencer must confirm it from its session table rather than wait for a commit.
      const retry = yield* valueOf(
        yield* settleOne(yield* Effect.fork(spec.propose("once", { requestId: 7 })), 1000, "retry")
      )
      expect(retry.index).toBe(first.index)
      yield* valueOf(yield* settleOne(yield* Effect.fork(spec.propose("twice")), 1000, "next"))
      yield* advanceUntil(Effect.map(spec.pendingCount.get, (n) => n === 0), 500, "every proposal confirmed")
      expect(yield* spec.confirmed.get).toEqual(["once", "twice"])
      expect(yield* spec.speculative.get).toEqual(["once", "twice"])
      expect(yield* timesLogged(p1, "once")).toBe(1)
    }))
})

/** How many times `action` sits in `s`'s committed log. */
const timesLogged = (s: GameSessionShape, action: string) =>
  Effect.gen(function*() {
    const last = yield* s.node.commitIndex.get
    const fiber = yield* s.node.committedFrom(1).pipe(
      Stream.takeUntil((c) => committedIndex(c) >= last),
      Stream.runCollect,
      Effect.fork
    )
    const items = yield* valueOf(yield* settleOne(fiber, 500, "the log"))
    const text = new TextDecoder()
    return Chunk.toReadonlyArray(items).filter((c) =>
      c._tag === "Entry" && text.decode(c.entry.command) === JSON.stringify(action)
    ).length
  })
