/**
 * Membership changes through the engine (§6, thesis §4.3): learners and joiners, 3 → 5 voters by
 * joint consensus across a partition, removing the leader, one change at a time (with
 * `changeMembershipWithRetry` on virtual time), rollback of the `membership` surface, and a
 * removed node that cannot disrupt.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { changeMembershipWithRetry } from "../../../src/raft/changeMembershipWithRetry.js"
import { machine, stateOf } from "./consumer.js"
import { advanceUntil, awaitLeader, bytes, startCluster } from "./fixture.js"
import type { TestCluster, TestNode } from "./fixture.js"

const peer = (s: string) => s as PeerId
const joiner = (id: string) => ClusterConfig.of([], [id])
const voters3 = { ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3") }
const sorted = (c: ClusterConfig) => ({ voters: [...c.voters].sort(), learners: [...c.learners].sort() })

/** A leader whose current-term no-op has committed (so it accepts membership changes). */
const settledLeader = (c: TestCluster) =>
  Effect.gen(function*() {
    const l = yield* awaitLeader(c)
    yield* TestClock.adjust("20 millis")
    return l
  })

const everyoneCommitted = (nodes: ReadonlyArray<TestNode>, index: number) =>
  Effect.gen(function*() {
    for (const n of nodes) if ((yield* n.node.commitIndex.get) < index) return false
    return true
  })

const traceOf = (n: TestNode) =>
  Effect.gen(function*() {
    const seen: Array<RaftTraceEvent> = []
    yield* n.node.trace.pipe(Stream.runForEach((e) => Effect.sync(() => void seen.push(e))), Effect.forkScoped)
    yield* Effect.yieldNow()
    return seen
  })

describe("membership through the engine", () => {
  it.scoped("a joiner added as a learner catches up outside the quorum; commits continue with it down", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters3, seed: 201 })
      const leader = yield* settledLeader(c)
      const lm = yield* machine(leader.node)
      for (const s of ["a", "b"]) yield* leader.node.propose(bytes(s))
      const l1 = yield* c.join("l1", joiner("l1"))
      expect(yield* l1.node.role.get).toBe("Learner")
      const target = ClusterConfig.of(["n1", "n2", "n3"], ["l1"])
      const result = yield* leader.node.changeMembership(target)
      expect(sorted(result)).toEqual(sorted(target))
      const m1 = yield* machine(l1.node)
      const e = yield* leader.node.propose(bytes("c"))
      yield* advanceUntil(everyoneCommitted([l1], e.index), 500, "the learner to catch up")
      yield* advanceUntil(Effect.sync(() => m1.applied === e.index && lm.applied === e.index), 100, "consumers")
      expect(stateOf(m1)).toEqual(stateOf(lm))
      expect(yield* l1.node.role.get).toBe("Learner")
      expect(sorted(yield* l1.node.membership.get)).toEqual(sorted(target))
      yield* c.crash("l1")
      yield* c.crash(c.nodes.find((x) => x !== leader && x.id !== "l1")!.id)
      const without = yield* leader.node.propose(bytes("without the learner"))
      expect(without.index).toBe(e.index + 1)
    }))

  it.scoped("3 → 5 voters by joint consensus: stalled while the old majority is cut off, done once healed", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters3, seed: 202 })
      const leader = yield* settledLeader(c)
      yield* c.join("n4", joiner("n4"))
      yield* c.join("n5", joiner("n5"))
      const [a, b] = c.nodes.filter((x) => x.id !== leader.id && x.id.match(/^n[123]$/))
      yield* c.loom.faults.cut(peer(leader.id), peer(a!.id))
      yield* c.loom.faults.cut(peer(leader.id), peer(b!.id))
      const commit = yield* leader.node.commitIndex.get
      const target = ClusterConfig.ofVoters("n1", "n2", "n3", "n4", "n5")
      const change = yield* Effect.fork(leader.node.changeMembership(target))
      yield* TestClock.adjust("30 millis")
      // Adopted on append: C_new shows at once; but {leader, n4, n5} is no majority of C_old.
      expect((yield* leader.node.membership.get).voters.size).toBe(5)
      expect(Option.isNone(yield* Fiber.poll(change))).toBe(true)
      expect(yield* leader.node.commitIndex.get).toBe(commit)
      yield* c.loom.faults.healAll
      yield* advanceUntil(Effect.map(Fiber.poll(change), Option.isSome), 1000, "the change to complete")
      expect(sorted(yield* Fiber.join(change))).toEqual(sorted(target))
      const l = yield* awaitLeader(c)
      const e = yield* l.node.propose(bytes("five voters"))
      yield* advanceUntil(everyoneCommitted(c.nodes, e.index), 1000, "all five to commit")
      for (const n of c.nodes) {
        expect(sorted(yield* n.node.membership.get)).toEqual(sorted(target))
        expect(yield* n.node.role.get).not.toBe("Learner")
      }
    }))

  it.scoped("removing the leader: it returns, steps down (RemovedFromConfig), and the rest elect a new leader", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters3, seed: 203 })
      const leader = yield* settledLeader(c)
      const seen = yield* traceOf(leader)
      const rest = c.nodes.filter((x) => x !== leader)
      const target = ClusterConfig.ofVoters(...rest.map((x) => x.id))
      const result = yield* leader.node.changeMembership(target)
      expect(sorted(result)).toEqual(sorted(target))
      yield* TestClock.adjust("1 millis")
      expect(yield* leader.node.role.get).not.toBe("Leader")
      expect(seen.filter((e) => e._tag === "BecomeFollower").map((e) => e._tag === "BecomeFollower" && e.reason)).toContain("RemovedFromConfig")
      yield* advanceUntil(
        Effect.gen(function*() {
          for (const x of rest) if ((yield* x.node.role.get) === "Leader") return true
          return false
        }),
        1000,
        "a leader among the remaining voters"
      )
      const l2 = (yield* c.leader)!
      expect(l2).not.toBe(leader)
      yield* l2.node.propose(bytes("after removal"))
      yield* TestClock.adjust("500 millis")
      expect(yield* leader.node.role.get).not.toBe("Leader")
    }))

  it.scoped("one change at a time; changeMembershipWithRetry waits the first one out on virtual time", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters3, seed: 204 })
      const leader = yield* settledLeader(c)
      yield* c.join("n4", joiner("n4"))
      yield* c.loom.faults.setConditions({ latencyMs: 2 })
      const first = yield* Effect.fork(leader.node.changeMembership(ClusterConfig.ofVoters("n1", "n2", "n3", "n4")))
      yield* TestClock.adjust("1 millis")
      const refused = yield* leader.node.changeMembership(ClusterConfig.of(["n1", "n2", "n3", "n4"], ["x"])).pipe(Effect.flip)
      expect(refused._tag).toBe("MembershipChangeInProgress")
      const retried = yield* Effect.fork(
        changeMembershipWithRetry(leader.node, ClusterConfig.of(["n1", "n2", "n3", "n4"], ["x"]), { retryDelay: "5 millis" })
      )
      yield* advanceUntil(Effect.map(Fiber.poll(retried), Option.isSome), 1000, "the retried change")
      expect(Exit.isSuccess(yield* Fiber.await(first))).toBe(true)
      expect(sorted(yield* Fiber.join(retried)).learners).toEqual(["x"])
      const invalid = yield* leader.node.changeMembership(ClusterConfig.of([], ["n1"])).pipe(Effect.flip)
      expect(invalid._tag).toBe("InvalidMembership")
      const follower = c.nodes.find((x) => x !== leader)!
      const notLeader = yield* follower.node.changeMembership(ClusterConfig.ofVoters("n1")).pipe(Effect.flip)
      expect(notLeader._tag).toBe("NotLeader")
    }))

  it.scoped("changeMembershipWithRetry gives up after maxAttempts with MembershipChangeInProgress", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters3, seed: 205 })
      const leader = yield* settledLeader(c)
      const others = c.nodes.filter((x) => x !== leader)
      // A joint change that cannot commit (both other old voters unreachable) blocks every other.
      for (const o of others) yield* c.loom.faults.cut(peer(leader.id), peer(o.id))
      yield* Effect.fork(leader.node.changeMembership(ClusterConfig.ofVoters("n1", "n2", "n3", "n9")))
      const retried = yield* Effect.fork(
        changeMembershipWithRetry(leader.node, ClusterConfig.of(["n1", "n2", "n3"], ["x"]), { maxAttempts: 3, retryDelay: "10 millis" })
      )
      yield* TestClock.adjust("25 millis")
      const exit = yield* Fiber.await(retried)
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("MembershipChangeInProgress")
    }))

  it.scoped("a config entry that never commits is truncated and the membership surface rolls back", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...voters3, seed: 206 })
      const leader = yield* settledLeader(c)
      const before = yield* leader.node.membership.get
      yield* c.loom.faults.isolate(peer(leader.id))
      const change = yield* Effect.fork(leader.node.changeMembership(ClusterConfig.of(["n1", "n2", "n3"], ["x"])))
      yield* TestClock.adjust("1 millis")
      expect((yield* leader.node.membership.get).learners.has("x" as never)).toBe(true)
      // CheckQuorum deposes it; the change fails; the majority moves on without the entry.
      yield* advanceUntil(Effect.map(Fiber.poll(change), Option.isSome), 500, "the change to fail")
      const failure = yield* Fiber.join(change).pipe(Effect.flip)
      expect(failure._tag).toBe("LeadershipLost")
      const l2 = yield* awaitLeader(c)
      expect(l2).not.toBe(leader)
      const e = yield* l2.node.propose(bytes("majority"))
      yield* c.loom.faults.healAll
      yield* advanceUntil(everyoneCommitted([leader], e.index), 1000, "the old leader to converge")
      expect(sorted(yield* leader.node.membership.get)).toEqual(sorted(before))
    }))

  it.scoped("a removed node with a higher term cannot disrupt the cluster", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ids: ["n1", "n2", "n3", "n4"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3", "n4"), seed: 207 })
      const leader = yield* settledLeader(c)
      const victim = c.nodes.find((x) => x !== leader)!
      const members = c.nodes.filter((x) => x !== victim)
      yield* c.loom.faults.isolate(peer(victim.id))
      yield* leader.node.changeMembership(ClusterConfig.ofVoters(...members.map((x) => x.id)))
      // It never learned of its removal; it comes back from a restart at a much higher term.
      const term = yield* leader.node.term.get
      yield* c.crash(victim.id)
      const durable = victim.disk.durableState()
      victim.disk.plant({ ...durable, hardState: { term: term + 5, votedFor: null } })
      yield* c.restart(victim.id)
      expect(yield* victim.node.term.get).toBe(term + 5)
      expect((yield* victim.node.membership.get).voters.has(victim.id as never)).toBe(true)
      yield* c.loom.faults.healAll
      yield* TestClock.adjust("1 second")
      expect(yield* leader.node.role.get).toBe("Leader")
      for (const m of members) expect(yield* m.node.term.get).toBe(term)
      const e = yield* leader.node.propose(bytes("undisturbed"))
      yield* advanceUntil(everyoneCommitted(members, e.index), 500, "members to commit")
    }))
})
