/**
 * Engine-level reads: `readIndex` on the leader (no log write, a shared value for concurrent
 * calls), `NotLeader` elsewhere and on a closed node, `LeadershipLost` for a leader cut off in a
 * minority (B4), and `awaitRead` on a learner reading its own state machine linearizably.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Stream, SubscriptionRef, TestClock } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { committedIndex } from "../../../services/raft/LogEntry.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import { RaftNode } from "../../../src/raft/RaftNode.js"
import { advanceUntil, awaitLeader, bytes, FAST, startCluster, text } from "./fixture.js"

const three = { ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3") }

/** A consumer: the commands applied so far and the applied index as a SubscriptionRef. */
const consumer = (node: RaftNodeShape) =>
  Effect.gen(function*() {
    const applied = yield* SubscriptionRef.make(0)
    const commands: Array<string> = []
    yield* node.committedFrom(1).pipe(
      Stream.runForEach((c) =>
        Effect.gen(function*() {
          if (c._tag === "Entry") commands.push(text(c.entry.command))
          yield* SubscriptionRef.set(applied, committedIndex(c))
        })
      ),
      Effect.forkScoped
    )
    return { applied, commands }
  })

describe("RaftNode reads", () => {
  it.scoped("readIndex on the leader answers the commit index, writes nothing, and concurrent calls agree", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 3 })
      const leader = yield* awaitLeader(c)
      yield* leader.node.propose(bytes("a"))
      yield* TestClock.adjust("30 millis")
      const commit = yield* leader.node.commitIndex.get
      const stored = leader.disk.currentState().entries.length
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], () => Effect.fork(leader.node.readIndex))
      yield* TestClock.adjust("5 millis")
      const values = yield* Effect.forEach(fibers, Fiber.join)
      expect(values).toEqual([commit, commit, commit, commit, commit])
      yield* TestClock.adjust("50 millis")
      expect(yield* leader.node.commitIndex.get).toBe(commit)
      expect(leader.disk.currentState().entries.length).toBe(stored)
    }))

  it.scoped("readIndex fails with NotLeader on a follower and on a closed node", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 4 })
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const follower = c.nodes.find((n) => n !== leader)!
      const err = yield* follower.node.readIndex.pipe(Effect.flip)
      expect(err).toMatchObject({ _tag: "NotLeader", leader: leader.id })
      yield* leader.node.close
      expect((yield* leader.node.readIndex.pipe(Effect.flip))._tag).toBe("NotLeader")
      expect((yield* leader.node.readFence.pipe(Effect.flip))._tag).toBe("NotLeader")
    }))

  it.scoped("a leader cut off in a minority fails its read with LeadershipLost (B4)", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 5 })
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      yield* c.loom.faults.isolate(leader.id as PeerId)
      const read = yield* Effect.fork(leader.node.readIndex)
      yield* TestClock.adjust(`${3 * FAST.electionTimeoutMax!} millis`)
      const exit = yield* Fiber.await(read)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(JSON.stringify(exit.cause)).toContain("LeadershipLost")
      expect(yield* leader.node.role.get).toBe("Follower")
    }))

  it.scoped("awaitRead on a learner sees every write that completed before it began", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({
        ids: ["a", "b", "c", "l"],
        cluster: ClusterConfig.of(["a", "b", "c"], ["l"]),
        seed: 6
      })
      const leader = yield* awaitLeader(c)
      const learner = c.byId("l")
      const state = yield* consumer(learner.node)
      yield* TestClock.adjust("20 millis")
      // The learner hears the leader late: the writes complete before it has applied them.
      yield* c.loom.faults.setLinkConditions(leader.id as PeerId, "l" as PeerId, { latencyMs: 15 })
      let last = 0
      for (const s of ["w1", "w2", "w3"]) last = (yield* leader.node.propose(bytes(s))).index
      expect(yield* state.applied.get).toBeLessThan(last)
      const read = yield* Effect.fork(RaftNode.awaitRead(learner.node, state.applied))
      yield* advanceUntil(Effect.map(Fiber.poll(read), (o) => o._tag === "Some"), 200, "the learner's read")
      const fence = yield* Fiber.join(read)
      expect(fence).toBeGreaterThanOrEqual(last)
      expect(yield* state.applied.get).toBeGreaterThanOrEqual(fence)
      expect(state.commands).toEqual(["w1", "w2", "w3"])
    }))
})
