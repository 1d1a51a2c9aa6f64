/**
 * Snapshots through the engine (§7; chunked InstallSnapshot): publishing,
 * compaction, transfer over InMemoryLoom (budgets, partitions), restart, and `committedFrom` below
 * the floor — with consumers fed from `committedFrom` whose state must end byte-equal.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream, TestClock } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { machine, publish, stateOf } from "./consumer.js"
import type { Machine } from "./consumer.js"
import { advanceUntil, awaitLeader, bytes, startCluster } from "./fixture.js"
import type { TestCluster, TestNode } from "./fixture.js"

const three = { ids: ["n1", "n2", "n3"], cluster: ClusterConfig.ofVoters("n1", "n2", "n3") }
const peer = (s: string) => s as PeerId

type InstallTrace = Extract<RaftTraceEvent, { _tag: "InstallSnapshot" }>

/** Records the leader's InstallSnapshot chunks. */
const watchChunks = (n: TestNode) =>
  Effect.gen(function*() {
    const seen: Array<InstallTrace> = []
    yield* n.node.trace.pipe(
      Stream.runForEach((e) => Effect.sync(() => void (e._tag === "InstallSnapshot" && seen.push(e)))),
      Effect.forkScoped
    )
    yield* Effect.yieldNow()
    return seen
  })

const proposeAll = (n: TestNode, prefix: string, count: number, pad = 0) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => `${prefix}${i}`.padEnd(pad, ".")),
    (s) => n.node.propose(bytes(s))
  )

/**
 * A cluster whose follower missed `count` entries (it was down) that its leader then compacted
 * away: returns the leader, its consumer, the follower (still down) and the floor.
 */
const lagging = (options: Parameters<typeof startCluster>[0], count: number, pad = 0) =>
  Effect.gen(function*() {
    const c = yield* startCluster(options)
    const leader = yield* awaitLeader(c)
    const lm = yield* machine(leader.node)
    const follower = c.nodes.find((x) => x !== leader)!
    yield* TestClock.adjust("20 millis")
    yield* c.crash(follower.id)
    yield* proposeAll(leader, "v", count, pad)
    yield* TestClock.adjust("20 millis")
    yield* publish(leader.node, lm)
    yield* advanceUntil(Effect.map(leader.node.compactionFloor.get, (f) => f === lm.applied), 100, "compaction")
    return { c, leader, lm, follower, floor: lm.applied }
  })

const converged = (c: TestCluster, a: TestNode, am: Machine, b: TestNode, bm: Machine, maxMs = 2000) =>
  advanceUntil(
    Effect.gen(function*() {
      const ca = yield* a.node.commitIndex.get
      return (yield* b.node.commitIndex.get) === ca && am.applied === ca && bm.applied === ca
    }),
    maxMs,
    `${b.id} to converge with ${a.id}`
  ).pipe(Effect.zipRight(Effect.sync(() => void c)))

describe("snapshots through the engine", () => {
  it.scoped("publishing compacts: compactionFloor moves, storage holds the snapshot, the prefix is gone", () =>
    Effect.gen(function*() {
      const { leader, floor } = yield* lagging({ ...three, seed: 101 }, 10)
      expect(yield* leader.node.compactionFloor.get).toBe(floor)
      const durable = leader.disk.durableState()
      expect(durable.snapshot?.meta.lastIncludedIndex).toBe(floor)
      expect(durable.snapshot?.meta.config.new.voters.size).toBe(3)
      expect(durable.entries.every((e) => e.index > floor)).toBe(true)
    }))

  it.scoped("an offline follower installs the snapshot and its consumer converges byte-equal", () =>
    Effect.gen(function*() {
      const { c, leader, lm, follower, floor } = yield* lagging({ ...three, seed: 102 }, 30)
      yield* c.restart(follower.id)
      const fm = yield* machine(follower.node)
      yield* proposeAll(leader, "after", 3)
      yield* converged(c, leader, lm, follower, fm)
      expect(yield* follower.node.compactionFloor.get).toBe(floor)
      expect(fm.installs).toEqual([floor])
      expect(fm.commands).toHaveLength(33)
      expect(stateOf(fm)).toEqual(stateOf(lm))
    }))

  it.scoped("under a tiny payload budget the snapshot crosses in many chunks and still converges", () =>
    Effect.gen(function*() {
      const { c, leader, lm, follower, floor } = yield* lagging({ ...three, seed: 103, maxPayloadBytes: 400 }, 30, 40)
      const chunks = yield* watchChunks(leader)
      yield* c.restart(follower.id)
      const fm = yield* machine(follower.node)
      yield* converged(c, leader, lm, follower, fm)
      const offsets = new Set(chunks.filter((e) => e.to === follower.id && e.lastIncludedIndex === floor).map((e) => e.offset))
      expect(offsets.size).toBeGreaterThanOrEqual(8)
      expect(stateOf(fm)).toEqual(stateOf(lm))
    }))

  it.scoped("a transfer cut mid-way resumes from the acknowledged offset once the link heals", () =>
    Effect.gen(function*() {
      const { c, leader, lm, follower, floor } = yield* lagging(
        { ...three, seed: 104, config: { electionTimeoutMin: 50, electionTimeoutMax: 100, heartbeatInterval: 10, snapshotChunkCeiling: 16 } },
        40
      )
      yield* c.loom.faults.setConditions({ latencyMs: 1 })
      const chunks = yield* watchChunks(leader)
      const toF = () => chunks.filter((e) => e.to === follower.id)
      yield* c.restart(follower.id)
      const fm = yield* machine(follower.node)
      yield* advanceUntil(Effect.sync(() => toF().some((e) => e.offset >= 6 * 16)), 500, "a few chunks")
      yield* c.loom.faults.cut(peer(leader.id), peer(follower.id))
      yield* TestClock.adjust("5 millis")
      const cutAt = toF().length
      const resumeFrom = toF().at(-1)!.offset
      yield* TestClock.adjust("150 millis")
      // While cut, heartbeats resend the current chunk; they never restart at 0.
      const during = toF().slice(cutAt)
      expect(during.length).toBeGreaterThanOrEqual(3)
      for (const e of during) expect(e.offset).toBe(resumeFrom)
      const healAt = toF().length
      yield* c.loom.faults.healAll
      yield* converged(c, leader, lm, follower, fm)
      const after = toF().slice(healAt).filter((e) => e.lastIncludedIndex === floor)
      expect(after.length).toBeGreaterThan(0)
      expect(after[0]!.offset).toBe(resumeFrom)
      expect(after.every((e) => e.offset >= resumeFrom)).toBe(true)
      expect(stateOf(fm)).toEqual(stateOf(lm))
    }))

  it.scoped("a snapshot above the follower's ceiling is refused and reported as a metric", () =>
    Effect.gen(function*() {
      const { c, leader, follower } = yield* lagging(
        { ...three, seed: 105, config: { electionTimeoutMin: 50, electionTimeoutMax: 100, heartbeatInterval: 10, snapshotTotalCeiling: 32 } },
        20
      )
      yield* c.restart(follower.id)
      const metrics = yield* Effect.forkScoped(
        follower.node.metrics.pipe(Stream.filter((m) => m._tag === "SnapshotRejectedSizeCeiling"), Stream.take(2), Stream.runCollect)
      )
      yield* TestClock.adjust("200 millis")
      const got = Chunk.toReadonlyArray(yield* metrics.await.pipe(Effect.flatten))
      expect(got[0]).toMatchObject({ _tag: "SnapshotRejectedSizeCeiling", ceiling: 32 })
      expect(yield* follower.node.compactionFloor.get).toBe(0)
      expect(yield* leader.node.role.get).toBe("Leader")
    }))

  it.scoped("committedFrom at or below the floor starts with Install; above it, with entries", () =>
    Effect.gen(function*() {
      const { leader, floor } = yield* lagging({ ...three, seed: 106 }, 8)
      yield* proposeAll(leader, "tail", 2)
      const take = (from: number, n: number) =>
        leader.node.committedFrom(from).pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
      for (const from of [1, floor]) {
        const items = yield* take(from, 3)
        expect(items[0]).toMatchObject({ _tag: "Install", snapshot: { throughIndex: floor } })
        expect(items.slice(1).map((x) => x._tag)).toEqual(["Entry", "Entry"])
      }
      const above = yield* take(floor + 1, 2)
      expect(above[0]).toMatchObject({ _tag: "Entry", entry: { index: floor + 1 } })
    }))

  it.scoped("a node restarted from snapshot + log replays Install first and catches up", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 107 })
      const leader = yield* awaitLeader(c)
      const lm = yield* machine(leader.node)
      const f = c.nodes.find((x) => x !== leader)!
      const fm1 = yield* machine(f.node)
      yield* proposeAll(leader, "a", 12)
      yield* TestClock.adjust("20 millis")
      yield* publish(f.node, fm1)
      const floor = fm1.applied
      yield* advanceUntil(Effect.map(f.node.compactionFloor.get, (x) => x === floor), 100, "follower compaction")
      yield* c.crash(f.id)
      yield* proposeAll(leader, "b", 3)
      yield* c.restart(f.id)
      expect(yield* f.node.compactionFloor.get).toBe(floor)
      expect(yield* f.node.commitIndex.get).toBe(floor)
      const fm2 = yield* machine(f.node)
      yield* converged(c, leader, lm, f, fm2)
      expect(fm2.installs).toEqual([floor])
      expect(stateOf(fm2)).toEqual(stateOf(lm))
    }))
})
