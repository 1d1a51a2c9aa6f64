import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Option, Schema, Scope, Stream } from "effect"
import { gameNode, NotInRoster, TurnSequencer } from "../../src/index.js"
import type { GameSessionShape } from "../../src/index.js"
import { advanceUntil, FAST, makeLoom, settle, settleOne, startIn, valueOf, weaveAll } from "./helpers.js"

const Move = Schema.Struct({ player: Schema.String, n: Schema.Number })
type Move = typeof Move.Type

const ids = ["p1", "p2", "p3"]

/** Three players of a roster-given game, all started. */
const startRoster = Effect.gen(function*() {
  const loom = yield* makeLoom()
  const players = yield* weaveAll(loom, ids)
  const fibers = yield* Effect.forEach(players, (p) => startIn(p, (seam) => gameNode(seam, ids, FAST)))
  const exits = yield* settle(fibers, 100, "three gameNode sessions")
  const sessions = yield* Effect.forEach(exits, valueOf)
  return { loom, players, sessions }
})

const collect = (seq: TurnSequencer<Move>, n: number) =>
  seq.events.pipe(
    Stream.filter((e) => e._tag === "Committed"),
    Stream.map((e) => (e._tag === "Committed" ? `${e.indexed.index}:${e.indexed.action.player}${e.indexed.action.n}` : "")),
    Stream.take(n),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray)
  )

describe("gameNode", () => {
  it.scoped("every peer of a roster-given game commits the same actions in the same order", () =>
    Effect.gen(function*() {
      const { sessions } = yield* startRoster
      const seqs = sessions.map((s) => TurnSequencer.make(s.node, Move))
      const readers = yield* Effect.forEach(seqs, (s) => Effect.fork(collect(s, 6)))
      const proposals = yield* Effect.forEach(
        [0, 1, 2, 0, 1, 2],
        (i, k) => Effect.fork(seqs[i]!.propose({ player: ids[i]!, n: k })),
        { concurrency: 1 }
      )
      const results = yield* settle(proposals, 3000, "six proposals")
      for (const r of results) expect(Exit.isSuccess(r)).toBe(true)
      const logs = yield* Effect.forEach(yield* settle(readers, 1000, "every reader"), valueOf)
      expect(logs[0]).toHaveLength(6)
      expect(logs[1]).toEqual(logs[0])
      expect(logs[2]).toEqual(logs[0])
      // Indices are the proposals' own; Raft's no-op is not an action.
      const indices = (yield* Effect.forEach(results, valueOf)).map((r) => r.index).sort((a, b) => a - b)
      expect(logs[0]!.map((l) => Number(l.split(":")[0]))).toEqual(indices)
      const leaders = yield* Effect.forEach(sessions, (s) => s.node.leader.get)
      expect(new Set(leaders.map(Option.getOrUndefined)).size).toBe(1)
    }))

  it.scoped("a caller whose id is not in the roster fails with NotInRoster", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const [player] = yield* weaveAll(loom, ["outsider"])
      const exit = yield* Effect.exit(gameNode(player!.seam, ids, FAST).pipe(Scope.extend(player!.scope)))
      expect(exit).toEqual(Exit.fail(new NotInRoster({ selfId: "outsider", voters: ids })))
      // The seam was not taken over: the caller still owns its incoming.
      const probe = yield* Effect.fork(Stream.runHead(player!.seam.incoming))
      yield* Fiber.interrupt(probe)
    }))

  it.scoped("app channels carry chat beside consensus on the same seam", () =>
    Effect.gen(function*() {
      const { sessions } = yield* startRoster
      const chats = yield* Effect.forEach(sessions, (s: GameSessionShape) => Effect.orDie(s.appChannel("chat")))
      const heard = yield* Effect.forEach(chats.slice(1), (c) =>
        Effect.fork(Stream.runHead(Stream.map(c.incoming, (sw) => `${sw.sender}: ${sw.decodeToString()}`))))
      yield* chats[0]!.broadcast(new TextEncoder().encode("gl hf"))
      const got = yield* Effect.forEach(yield* settle(heard, 100, "chat on every peer"), valueOf)
      expect(got).toEqual([Option.some("p1: gl hf"), Option.some("p1: gl hf")])
      // Consensus still works on the same connection.
      const seq = TurnSequencer.make(sessions[1]!.node, Move)
      const move = yield* valueOf(yield* settleOne(yield* Effect.fork(seq.propose({ player: "p2", n: 1 })), 2000, "a move"))
      expect(move.action).toEqual({ player: "p2", n: 1 })
    }))

  it.scoped("a player crashing leaves a game that goes on while a quorum remains, and stalls without one", () =>
    Effect.gen(function*() {
      const { players, sessions } = yield* startRoster
      const seqs = sessions.map((s) => TurnSequencer.make(s.node, Move))
      const first = yield* settleOne(yield* Effect.fork(seqs[0]!.propose({ player: "p1", n: 1 })), 2000, "first move")
      expect(Exit.isSuccess(first)).toBe(true)
      // Crash the leader itself: the other two elect a new one and keep playing.
      const leaderId = Option.getOrThrow(yield* sessions[0]!.node.leader.get)
      const crashed = ids.indexOf(leaderId)
      yield* Scope.close(players[crashed]!.scope, Exit.void)
      const alive = [0, 1, 2].filter((i) => i !== crashed)
      // Propose once the survivors have a leader (a proposal forwarded to the crashed leader before
      // that hangs: see raft-forwarding.test.ts).
      yield* advanceUntil(
        Effect.map(
          Effect.forEach(alive, (i) => sessions[i]!.node.role.get),
          (roles) => roles.includes("Leader")
        ),
        2000,
        "a new leader among the survivors"
      )
      const next = yield* settleOne(
        yield* Effect.fork(seqs[alive[0]!]!.propose({ player: ids[alive[0]!]!, n: 2 })),
        3000,
        "a move after the crash"
      )
      expect(Exit.isSuccess(next)).toBe(true)
      yield* advanceUntil(
        Effect.map(sessions[alive[1]!]!.node.commitIndex.get, (c) => c >= (Exit.isSuccess(next) ? next.value.index : 0)),
        1000,
        "the other survivor to commit"
      )
      // With a second crash no quorum remains: a move cannot commit.
      yield* Scope.close(players[alive[1]!]!.scope, Exit.void)
      const stalled = yield* Effect.fork(seqs[alive[0]!]!.propose({ player: ids[alive[0]!]!, n: 3 }))
      yield* advanceUntil(Effect.succeed(false), 1000, "nothing").pipe(Effect.catchAllDefect(() => Effect.void))
      // It never commits: it is still waiting, or the leader stepped down (CheckQuorum) and failed it.
      const outcome = yield* Fiber.poll(stalled)
      if (Option.isSome(outcome)) {
        expect(Exit.isFailure(outcome.value)).toBe(true)
      }
      yield* Fiber.interrupt(stalled)
    }))
})
