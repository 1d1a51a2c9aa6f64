import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { awaitRead } from "../../../src/raft/awaitRead.js"
import { runSimulation, SimulatedCluster } from "../../../src/testing/effect/index.js"
import { kv, put } from "./kv.js"

describe.each([3, 5])("a user's KV state machine on %i nodes", (size) => {
  it.scoped("every node applies the same puts in the same order", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size, seed: size, machine: kv })
      let last = 0
      for (let i = 0; i < 12; i++) last = (yield* c.proposeOnLeader(put(`k${i % 4}`, `v${i}`))).index
      yield* c.awaitCommit(last)
      const expected = new Map([["k0", "v8"], ["k1", "v9"], ["k2", "v10"], ["k3", "v11"]])
      for (const id of c.ids) expect(c.appliedState(id)).toEqual(expected)
      yield* c.checkInvariants
    }))

  it.scoped("a follower's linearizable read sees the last completed put", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size, seed: 10 + size, machine: kv })
      yield* c.proposeOnLeader(put("x", "1"))
      yield* c.proposeOnLeader(put("x", "2"))
      const follower = (yield* c.followers)[0]!
      const fence = yield* c.drive(awaitRead(c.node(follower), c.applied(follower)), { what: "a read fence" })
      expect(fence).toBeGreaterThanOrEqual(3)
      expect(c.appliedState(follower).get("x")).toBe("2")
    }))

  it.scoped("puts commit and states agree over a network that delays, drops, duplicates and reorders", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size, seed: 20 + size, machine: kv })
      yield* c.setNetwork({ latencyMs: 2, jitterMs: 3, drop: 0.05, duplicate: 0.05, reorder: 0.05 })
      let last = 0
      for (let i = 0; i < 10; i++) last = (yield* c.proposeOnLeader(put(`k${i}`, `v${i}`))).index
      yield* c.awaitCommit(last)
      const stats = yield* c.loom.stats
      expect(stats.dropped.random + stats.duplicated + stats.reordered).toBeGreaterThan(0)
      for (const id of c.ids) expect(c.appliedState(id).size).toBe(10)
      yield* c.checkInvariants
    }))
})

describe("snapshots through the state machine", () => {
  it.scoped("a follower that missed compacted entries is brought up to date by a snapshot", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 31, machine: kv, snapshotEvery: 5 })
      const leader = yield* c.awaitLeader()
      const behind = (yield* c.followers)[0]!
      yield* c.crash(behind)
      let last = 0
      for (let i = 0; i < 20; i++) last = (yield* c.proposeOnLeader(put(`k${i}`, `v${i}`))).index
      expect(yield* c.node(leader).compactionFloor.get).toBeGreaterThan(1)
      yield* c.restart(behind)
      yield* c.awaitCommit(last, { on: c.ids })
      expect(c.disk(behind).currentState().snapshot).not.toBeNull()
      expect(c.appliedState(behind)).toEqual(c.appliedState(leader))
      yield* c.checkInvariants
    }))
})

it.effect("runSimulation starts, runs and checks a cluster as one Effect", () =>
  runSimulation({ size: 3, seed: 41, machine: kv }, (c) =>
    Effect.gen(function*() {
      const entry = yield* c.proposeOnLeader(put("a", "b"))
      yield* c.awaitCommit(entry.index)
      return c.appliedState(c.ids[0]!).get("a")
    })).pipe(Effect.map((v) => expect(v).toBe("b"))))
