import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream, TestClock } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { advanceUntil, awaitLeader, bytes, startCluster } from "./fixture.js"
import type { TestCluster } from "./fixture.js"

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i + 1}`)
const voters = (n: number) => ({ ids: ids(n), cluster: ClusterConfig.ofVoters(...ids(n)) })
const peer = (s: string) => s as PeerId

/** Records every BecomeLeader event of every node: election safety is judged over the whole run. */
const watchLeaders = (c: TestCluster) =>
  Effect.gen(function*() {
    const byTerm = new Map<number, Set<string>>()
    for (const n of c.nodes) {
      yield* n.node.trace.pipe(
        Stream.runForEach((e: RaftTraceEvent) =>
          Effect.sync(() => {
            if (e._tag !== "BecomeLeader") return
            const s = byTerm.get(e.term) ?? new Set<string>()
            s.add(e.node)
            byTerm.set(e.term, s)
          })
        ),
        Effect.forkScoped
      )
    }
    return byTerm
  })

describe.each([3, 5])("a %i-voter cluster over InMemoryLoom", (n) => {
  it.scoped("elects exactly one leader per term, also across a leader crash", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters(n), seed: n })
      const byTerm = yield* watchLeaders(c)
      const first = yield* awaitLeader(c)
      yield* c.crash(first.id)
      const second = yield* awaitLeader(c)
      expect(second.id).not.toBe(first.id)
      const entry = yield* second.node.propose(bytes("after crash"))
      expect(entry.term).toBeGreaterThan(1)
      for (const [, leaders] of byTerm) expect(leaders.size).toBe(1)
      expect(byTerm.size).toBeGreaterThanOrEqual(2)
    }))

  it.scoped("a partitioned follower rejoins without bumping the term or deposing the leader (PreVote)", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters(n), seed: 10 + n })
      const leader = yield* awaitLeader(c)
      const term = yield* leader.node.term.get
      const follower = c.nodes.find((x) => x !== leader)!
      yield* c.loom.faults.isolate(peer(follower.id))
      yield* TestClock.adjust("2 seconds")
      yield* c.loom.faults.healAll
      yield* TestClock.adjust("500 millis")
      expect(yield* leader.node.role.get).toBe("Leader")
      for (const x of c.nodes) expect(yield* x.node.term.get).toBe(term)
      yield* leader.node.propose(bytes("still leading"))
    }))

  it.scoped("a partitioned leader steps down at the same term and the majority elects another", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters(n), seed: 20 + n })
      const leader = yield* awaitLeader(c)
      const term = yield* leader.node.term.get
      yield* c.loom.faults.isolate(peer(leader.id))
      yield* advanceUntil(Effect.map(leader.node.role.get, (r) => r !== "Leader"), 1000, "the old leader to step down")
      expect(yield* leader.node.term.get).toBe(term)
      yield* advanceUntil(
        Effect.gen(function*() {
          for (const x of c.nodes) if (x !== leader && (yield* x.node.role.get) === "Leader") return true
          return false
        }),
        2000,
        "a leader in the majority"
      )
      // The stale side cannot commit; the majority can.
      const stale = yield* Effect.fork(leader.node.propose(bytes("minority")))
      yield* TestClock.adjust("300 millis")
      expect(Option.isNone(yield* Fiber.poll(stale))).toBe(true)
      yield* Fiber.interrupt(stale)
    }))

  it.scoped("a minority cannot commit, and the log converges once the partition heals", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters(n), seed: 30 + n })
      const leader = yield* awaitLeader(c)
      const others = c.nodes.filter((x) => x !== leader)
      const majorityLoss = others.slice(0, Math.ceil(n / 2))
      for (const x of majorityLoss) yield* c.crash(x.id)
      const commit = yield* leader.node.commitIndex.get
      const blocked = yield* Effect.fork(leader.node.propose(bytes("blocked")))
      yield* TestClock.adjust("400 millis")
      // Without a quorum nothing commits; CheckQuorum then makes the leader give the call up.
      const outcome = yield* Fiber.poll(blocked)
      expect(Option.isSome(outcome) && outcome.value._tag === "Failure").toBe(true)
      expect(yield* leader.node.commitIndex.get).toBe(commit)
      expect(yield* leader.node.role.get).not.toBe("Leader")
      for (const x of majorityLoss) yield* c.restart(x.id)
      const l = yield* awaitLeader(c)
      const e = yield* l.node.propose(bytes("after heal"))
      yield* advanceUntil(
        Effect.gen(function*() {
          for (const x of c.nodes) if ((yield* x.node.commitIndex.get) < e.index) return false
          return true
        }),
        1000,
        "every node to commit"
      )
    }))
})

describe("forwarding through the engine", () => {
  it.scoped("a proposal made while no leader is known waits, and is sent once one is elected", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters(3), seed: 41 })
      const early = yield* Effect.fork(c.nodes[1]!.node.propose(bytes("early")))
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("100 millis")
      const entry = yield* Fiber.join(early)
      expect(entry.index).toBeGreaterThanOrEqual(2)
      expect(yield* leader.node.commitIndex.get).toBeGreaterThanOrEqual(entry.index)
    }))

  it.scoped("an interrupted parked proposal is never sent and never commits", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters(3), seed: 42 })
      const node = c.nodes[2]!
      const parked = yield* Effect.fork(node.node.propose(bytes("cancelled")))
      yield* TestClock.adjust("1 millis")
      yield* Fiber.interrupt(parked)
      const leader = yield* awaitLeader(c)
      const later = yield* node.node.propose(bytes("later"))
      yield* TestClock.adjust("100 millis")
      const seen = yield* leader.node.committedFrom(1).pipe(Stream.take(later.index), Stream.runCollect)
      const texts = [...seen].flatMap((x) => (x._tag === "Entry" ? [new TextDecoder().decode(x.entry.command)] : []))
      expect(texts).toEqual(["later"])
    }))
})
