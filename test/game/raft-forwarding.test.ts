/**
 * A Raft gap found while testing the game facade, now closed in the engine: a follower forwards a
 * proposal to the leader it knows, and that leader crashes before answering. The forward used to
 * stay in the follower's in-flight table for good, so `propose` never returned. Now a forward whose
 * peer stops being the leader (it left the transport, a higher term began, another node leads)
 * fails with `LeadershipLost` — outcome unknown — and the caller retries with the same
 * `requestId`, which commits the action exactly once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Option, Schema, Scope, Stream } from "effect"
import { gameNode, TurnSequencer } from "../../src/index.js"
import { FAST, makeLoom, settle, settleOne, startIn, valueOf, weaveAll } from "./helpers.js"

const ids = ["p1", "p2", "p3"]

describe("Raft forwarding under a leader crash", () => {
  it.scoped("a proposal forwarded to a leader that then crashes fails LeadershipLost, and its retry commits once", () =>
    Effect.gen(function*() {
      const loom = yield* makeLoom()
      const players = yield* weaveAll(loom, ids)
      const fibers = yield* Effect.forEach(players, (p) => startIn(p, (seam) => gameNode(seam, ids, FAST)))
      const sessions = yield* Effect.forEach(yield* settle(fibers, 100, "sessions"), valueOf)
      const seqs = sessions.map((s) => TurnSequencer.make(s.node, Schema.Number))
      yield* valueOf(yield* settleOne(yield* Effect.fork(seqs[0]!.propose(1)), 2000, "a first proposal"))
      const leader = ids.indexOf(Option.getOrThrow(yield* sessions[0]!.node.leader.get))
      const follower = [0, 1, 2].find((i) => i !== leader)!
      // The leader crashes in the same instant the follower forwards to it. The request id is
      // pinned so the retry below is recognisably the same proposal.
      const requestId = 1_000
      const stranded = yield* Effect.fork(seqs[follower]!.propose(2, { requestId }))
      yield* Scope.close(players[leader]!.scope, Exit.void)
      const exit = yield* settleOne(stranded, 1000, "the stranded proposal to return")
      // Nobody could have committed it (the leader died at once), but the follower cannot know
      // that: the outcome is unknown, never a silent hang and never a definite rejection.
      expect(Exit.isFailure(exit) && Option.getOrUndefined(Cause.failureOption(exit.cause))?._tag).toBe("LeadershipLost")
      const retried = yield* valueOf(
        yield* settleOne(yield* Effect.fork(seqs[follower]!.propose(2, { requestId })), 2000, "the retry")
      )
      expect(retried.action).toBe(2)
      const newLeader = Option.getOrThrow(yield* sessions[follower]!.node.leader.get)
      expect(newLeader).not.toBe(ids[leader])
      // Every survivor's log, through the retry's index, holds the action once.
      for (const i of [0, 1, 2].filter((i) => i !== leader)) {
        const upTo = Stream.takeUntil(seqs[i]!.events, (e) => e._tag === "Committed" && e.indexed.index >= retried.index)
        const actions = yield* valueOf(yield* settleOne(yield* Effect.fork(Stream.runCollect(upTo)), 2000, "the log"))
        expect(Chunk.toReadonlyArray(actions).map((e) => e._tag === "Committed" ? e.indexed.action : "reset"))
          .toEqual([1, 2])
      }
    }))
})
