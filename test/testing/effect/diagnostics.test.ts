import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, TestClock } from "effect"
import { runSimulation, SimulatedCluster } from "../../../src/testing/effect/index.js"
import { kv, put } from "./kv.js"

describe("bounded waits", () => {
  it.scoped("awaitLeader times out with a dump that shows every node, the partitions and the loom", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 5, seed: 91 })
      for (const id of c.ids) yield* c.isolate(id)
      const timeout = yield* Effect.flip(c.awaitLeader({ within: 500 }))
      expect(timeout._tag).toBe("SimulationTimeout")
      expect(timeout.withinMs).toBe(500)
      expect(yield* c.now).toBe(500)
      for (const id of c.ids) {
        expect(timeout.dump).toMatch(new RegExp(`^  ${id} +up +0 +(Follower|Candidate) `, "m"))
        expect(timeout.dump).toContain(`isolate ${id}`)
      }
      expect(timeout.message).toContain("timed out after 500 virtual ms waiting for a leader")
      expect(timeout.dump).toMatch(/loom: sent \d+, .*dropped cut [1-9]/)
    }))

  it.scoped("a wait ends at the first instant its condition holds", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 92 })
      const leader = yield* c.awaitLeader()
      const at = yield* c.now
      // A condition that already holds costs no time.
      yield* c.awaitLeader()
      expect(yield* c.now).toBe(at)
      // Time moves deadline by deadline, so a wait is exact, whatever the heartbeats do meanwhile.
      yield* c.drive(Effect.sleep("37 millis"))
      expect(yield* c.now).toBe(at + 37)
      expect(c.elections(leader).leaderships).toBe(1)
    }))

  it.scoped("the test's clock is the cluster's: TestClock.adjust moves it and user sleeps interleave", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 93 })
      const ticks: Array<number> = []
      const ticker = yield* Effect.fork(
        Effect.forever(Effect.zipRight(Effect.sleep("30 millis"), Effect.flatMap(c.now, (t) => Effect.sync(() => ticks.push(t)))))
      )
      yield* TestClock.adjust("100 millis")
      expect(yield* c.now).toBe(100)
      expect(yield* Clock.currentTimeMillis).toBe(100)
      yield* c.settle(50)
      expect(ticks).toEqual([30, 60, 90, 120, 150])
      yield* Fiber.interrupt(ticker)
    }))
})

describe("checks", () => {
  it.scoped("churn detection: a partition flapping around the leader trips checkChurn", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 94 })
      yield* c.awaitLeader()
      yield* c.checkChurn({ maxElections: 1 })
      for (let i = 0; i < 5; i++) {
        yield* c.isolate(yield* c.awaitLeader())
        yield* c.settle(200)
        yield* c.heal
      }
      const churn = yield* Effect.flip(c.checkChurn({ maxElections: 3, windowMs: 2000 }))
      expect(churn._tag).toBe("ChurnDetected")
      expect(churn.elections).toBeGreaterThan(3)
      expect(churn.dump).toContain("elections (campaigns/won)")
      yield* c.checkInvariants
    }))

  it.scoped("a healthy cluster does not churn", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 5, seed: 95 })
      yield* c.awaitLeader()
      yield* c.settle(1000)
      yield* c.checkChurn({ maxElections: 1 })
    }))

  it.scoped("checkInvariants catches a node whose committed entries diverge", () =>
    Effect.gen(function*() {
      const c = yield* SimulatedCluster.make({ size: 3, seed: 96, machine: kv })
      const entry = yield* c.proposeOnLeader(put("k", "real"))
      const f = (yield* c.followers)[0]!
      yield* c.crash(f)
      // Rewrite the entry on the follower's disk: same index and term, other bytes. Log Matching
      // (same index and term, same entry) is what the leader relies on, so it never notices.
      const state = c.disk(f).durableState()
      c.disk(f).plant({
        ...state,
        entries: state.entries.map((e) => e.index === entry.index && e._tag === "Command" ? { ...e, command: put("k", "forged") } : e)
      })
      yield* c.restart(f)
      yield* c.awaitCommit(entry.index, { on: c.ids })
      const violation = yield* Effect.flip(c.checkInvariants)
      expect(violation._tag).toBe("InvariantViolation")
      expect(violation.violations.join("\n")).toContain(`committed entries diverge at index ${entry.index}`)
      expect(c.appliedState(f).get("k")).toBe("forged")
    }))

  it.effect("a seed replays the same run", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        runSimulation({ size: 3, seed, machine: kv }, (c) =>
          Effect.gen(function*() {
            yield* c.setNetwork({ latencyMs: 1, jitterMs: 4, drop: 0.1, duplicate: 0.05, reorder: 0.1 })
            const old = yield* c.awaitLeader()
            for (let i = 0; i < 5; i++) yield* c.proposeOnLeader(put(`k${i}`, "v"))
            yield* c.crash(old)
            yield* c.proposeOnLeader(put("after", "crash"))
            yield* c.restart(old)
            yield* c.settle(200)
            return yield* c.dumpState("end")
          }))
      const first = yield* run(97)
      expect(yield* run(97)).toBe(first)
      expect(yield* run(98)).not.toBe(first)
    }))
})
