import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { committedIndex } from "../../../services/raft/LogEntry.js"
import type { Committed } from "../../../services/raft/LogEntry.js"
import { advanceUntil, awaitLeader, bytes, startCluster, text } from "./fixture.js"

const three = { ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3") }

const entriesOf = (items: ReadonlyArray<Committed>) =>
  items.flatMap((c) => (c._tag === "Entry" ? [text(c.entry.command)] : []))

describe("RaftNode proposals", () => {
  it.scoped("a lone voter leads at once and its first user entry lands at index 2", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ids: ["solo"], cluster: ClusterConfig.ofVoters("solo") })
      const leader = yield* awaitLeader(c, 10)
      const entry = yield* leader.node.propose(bytes("a"))
      expect(entry.index).toBe(2)
      expect(entry.term).toBe(1)
      expect(entry.dedupKey.clientId.startsWith("auto:solo-")).toBe(true)
    }))

  it.scoped("a follower's proposal is forwarded, committed, and seen in the same order everywhere", () =>
    Effect.gen(function*() {
      const c = yield* startCluster(three)
      const leader = yield* awaitLeader(c)
      const followers = c.nodes.filter((n) => n !== leader)
      const streams = yield* Effect.forEach(c.nodes, (n) => Effect.fork(Stream.runCollect(n.node.committed.pipe(Stream.filter((c) => c._tag === "Entry"), Stream.take(6)))))
      const fibers = yield* Effect.forEach(
        ["x1", "x2", "x3", "x4", "x5", "x6"],
        (s, i) => Effect.fork(c.nodes[i % 3]!.node.propose(bytes(s)))
      )
      yield* TestClock.adjust("100 millis")
      const results = yield* Effect.forEach(fibers, Fiber.join)
      expect(new Set(results.map((e) => e.index)).size).toBe(6)
      const seen = yield* Effect.forEach(streams, Fiber.join)
      const orders = seen.map((ch) => entriesOf(Chunk.toReadonlyArray(ch)))
      expect(orders[0]!.length).toBe(6)
      for (const o of orders) expect(o).toEqual(orders[0])
      expect(followers.length).toBe(2)
    }))

  it.scoped("committedFrom replays from an index and then tails, with no gap and no duplicate", () =>
    Effect.gen(function*() {
      const c = yield* startCluster(three)
      const leader = yield* awaitLeader(c)
      for (const s of ["a", "b", "c"]) yield* leader.node.propose(bytes(s))
      yield* TestClock.adjust("50 millis")
      const follower = c.nodes.find((n) => n !== leader)!
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(follower.node.committedFrom(2), 5)))
      yield* TestClock.adjust("1 millis")
      for (const s of ["d", "e"]) yield* leader.node.propose(bytes(s))
      yield* TestClock.adjust("50 millis")
      const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      expect(got.map(committedIndex)).toEqual([2, 3, 4, 5, 6])
      expect(entriesOf(got)).toEqual(["a", "b", "c", "d", "e"])
    }))

  it.scoped("an over-budget command fails with exact numbers and nothing enters the log; one at the limit commits", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, maxPayloadBytes: 1024 })
      const leader = yield* awaitLeader(c)
      const over = yield* leader.node.propose(new Uint8Array(2000)).pipe(Effect.flip)
      expect(over._tag).toBe("PayloadTooLarge")
      if (over._tag !== "PayloadTooLarge") return
      expect(over.payloadBytes).toBe(2000)
      expect(over.budgetBytes + over.reservedBytes).toBe(1024)
      const commitBefore = yield* leader.node.commitIndex.get
      const atLimit = yield* leader.node.propose(new Uint8Array(over.budgetBytes))
      expect(atLimit.index).toBe(commitBefore + 1)
      const oneOver = yield* leader.node.propose(new Uint8Array(over.budgetBytes + 1)).pipe(Effect.flip)
      expect(oneOver).toMatchObject({ _tag: "PayloadTooLarge", payloadBytes: over.budgetBytes + 1, budgetBytes: over.budgetBytes })
      // Followers reject the same way before forwarding.
      const follower = c.nodes.find((n) => n !== leader)!
      const fwd = yield* follower.node.propose(new Uint8Array(over.budgetBytes + 1)).pipe(Effect.flip)
      expect(fwd._tag).toBe("PayloadTooLarge")
      yield* TestClock.adjust("50 millis")
      expect(yield* leader.node.commitIndex.get).toBe(atLimit.index)
    }))

  it.scoped("closing a node fails waiting proposals with typed errors and later calls with NotLeader", () =>
    Effect.gen(function*() {
      const c = yield* startCluster(three)
      const leader = yield* awaitLeader(c)
      const follower = c.nodes.find((n) => n !== leader)!
      // Isolate the follower so its forwarded proposal cannot complete, then close it.
      yield* c.crash(leader.id)
      const pending = yield* Effect.fork(follower.node.propose(bytes("never")))
      yield* TestClock.adjust("1 millis")
      yield* follower.node.close
      const exit = yield* Fiber.await(pending)
      expect(Exit.isFailure(exit)).toBe(true)
      const after = yield* follower.node.propose(bytes("late")).pipe(Effect.flip)
      expect(after._tag).toBe("NotLeader")
    }))

  it.scoped("a storage write failure stops the node (fail-stop) and is reported", () =>
    Effect.gen(function*() {
      const c = yield* startCluster(three)
      const leader = yield* awaitLeader(c)
      leader.disk.failNextWrites({ count: Infinity })
      const attempt = yield* Effect.fork(leader.node.propose(bytes("x")))
      yield* TestClock.adjust("5 millis")
      const failure = yield* leader.node.awaitFailure
      expect(failure._tag).toBe("StorageError")
      const exit = yield* Fiber.await(attempt)
      expect(Exit.isFailure(exit)).toBe(true)
      // The rest of the cluster elects a new leader and goes on.
      yield* advanceUntil(
        Effect.gen(function*() {
          const l = yield* c.leader
          return l !== undefined && l !== leader
        }),
        2000,
        "a new leader"
      )
      const next = (yield* c.leader)!
      const e = yield* next.node.propose(bytes("y"))
      expect(e.index).toBeGreaterThan(1)
      expect(Option.isSome(yield* next.node.leader.get)).toBe(true)
    }))
})
