import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option } from "effect"
import { SimulatedCluster } from "../../../src/testing/effect/index.js"
import { kv, put } from "./kv.js"

describe("partitions", () => {
  it.scoped("a symmetric partition: the majority elects and commits, the minority cannot; healing converges", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 5, seed: 71, machine: kv })
      const old = yield* c.awaitLeader()
      const minority = [old, c.ids.find((id) => id !== old)!]
      const majority = c.ids.filter((id) => !minority.includes(id))
      yield* c.partition(minority, majority)
      const stuck = yield* Effect.fork(c.node(old).propose(put("side", "minority")))
      const next = yield* c.awaitLeader({ among: majority })
      const entry = yield* c.proposeOnLeader(put("side", "majority"))
      expect(entry.term).toBeGreaterThan(1)
      // CheckQuorum makes the old leader give up, and its proposal fail (it never committed).
      yield* c.awaitRole(old, "Follower")
      const outcome = yield* Fiber.poll(stuck)
      expect(Option.isSome(outcome) && Exit.isFailure(outcome.value)).toBe(true)
      yield* c.heal
      expect(yield* c.awaitConverged()).toBe(next)
      yield* c.awaitCommit(entry.index, { on: c.ids })
      for (const id of c.ids) expect(c.appliedState(id).get("side")).toBe("majority")
      yield* c.checkInvariants
    }))

  it.scoped("a one-way partition: a leader that cannot be heard is replaced, then hears the new leader and follows", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 72, machine: kv })
      const old = yield* c.awaitLeader()
      const others = c.ids.filter((id) => id !== old)
      yield* c.partitionOneWay(old, others)
      const next = yield* c.awaitLeader({ among: others })
      // The old leader still receives: the new leader's heartbeats depose it without a heal.
      yield* c.awaitRole(old, "Follower")
      yield* c.proposeOnLeader(put("k", "v"))
      yield* c.heal
      expect(yield* c.awaitConverged()).toBe(next)
      yield* c.checkInvariants
    }))

  it.scoped("a bridge: the ends cannot talk, yet the leader keeps its term and commits through the bridge", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 73, machine: kv })
      const leader = yield* c.awaitLeader()
      const others = c.ids.filter((id) => id !== leader)
      const bridge = others[0]!
      const far = others[1]!
      const term = yield* c.node(leader).term.get
      yield* c.bridge(bridge, leader, far)
      const entry = yield* c.proposeOnLeader(put("k", "through the bridge"))
      yield* c.settle(1000)
      // `far` times out, but PreVote fails at the bridge (it still hears the leader): no new term.
      expect(yield* c.leader).toEqual(Option.some(leader))
      expect(yield* c.node(leader).term.get).toBe(term)
      expect(yield* c.node(far).commitIndex.get).toBeLessThan(entry.index)
      yield* c.heal
      yield* c.awaitCommit(entry.index, { on: c.ids })
      expect(c.appliedState(far).get("k")).toBe("through the bridge")
      yield* c.checkChurn({ maxElections: 1 })
      yield* c.checkInvariants
    }))

  it.scoped("an isolated follower misses entries and catches up when healed", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 74, machine: kv })
      yield* c.awaitLeader()
      const f = (yield* c.followers)[0]!
      yield* c.isolate(f)
      let last = 0
      for (let i = 0; i < 5; i++) last = (yield* c.proposeOnLeader(put(`k${i}`, "v"))).index
      expect(c.appliedState(f).size).toBe(0)
      yield* c.heal
      yield* c.awaitCommit(last, { on: c.ids })
      expect(c.appliedState(f).size).toBe(5)
    }))
})

describe("pause and resume", () => {
  it.scoped("a paused leader is replaced while it still believes it leads, and steps down on resume", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 81, machine: kv })
      const old = yield* c.awaitLeader()
      yield* c.pause(old)
      expect(c.status(old)).toBe("paused")
      const next = yield* c.awaitLeader()
      expect(next).not.toBe(old)
      const entry = yield* c.proposeOnLeader(put("k", "v"))
      // Frozen: no timer fired, no frame read, so no CheckQuorum step-down either.
      expect(yield* c.node(old).role.get).toBe("Leader")
      expect(c.appliedState(old).size).toBe(0)
      yield* c.resume(old)
      yield* c.awaitRole(old, "Follower")
      expect(yield* c.awaitConverged()).toBe(next)
      yield* c.awaitCommit(entry.index, { on: c.ids })
      yield* c.checkInvariants
    }))

  it.scoped("calls to a paused follower wait for its resume", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 82, machine: kv })
      yield* c.awaitLeader()
      const f = (yield* c.followers)[0]!
      yield* c.pause(f)
      const entry = yield* c.proposeOnLeader(put("k", "v"))
      const fence = yield* Effect.fork(c.node(f).readFence)
      yield* c.settle(300)
      expect(Option.isNone(yield* Fiber.poll(fence))).toBe(true)
      expect(yield* c.node(f).commitIndex.get).toBeLessThan(entry.index)
      yield* c.resume(f)
      expect(yield* c.drive(Fiber.join(fence))).toBeGreaterThanOrEqual(entry.index)
      yield* c.awaitCommit(entry.index, { on: c.ids })
    }))

  it.scoped("a paused node can be crashed and restarted, and a cluster can end with a node paused", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 83, machine: kv })
      const leader = yield* c.awaitLeader()
      const [a, b] = c.ids.filter((id) => id !== leader)
      yield* c.pause(a!)
      const entry = yield* c.proposeOnLeader(put("k", "v"))
      yield* c.crash(a!)
      yield* c.restart(a!)
      expect(c.status(a!)).toBe("up")
      yield* c.awaitCommit(entry.index, { on: c.ids })
      yield* c.pause(b!)
    }))
})
