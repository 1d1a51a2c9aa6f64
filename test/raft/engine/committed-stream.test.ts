/**
 * The committed stream (src/raft/engine/CommittedFeed.ts): every subscriber reads the node's log
 * with its own cursor, so no consumer — however slow, however many — holds up the node; a node
 * restarted on a long log replays it to every subscriber; `committedFrom(i)` never yields an index
 * below `i`; a subscriber overtaken by compaction continues from `Install(latest snapshot)`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Ref, Stream, TestClock } from "effect"
import { InMemoryLoom } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../../layers/raft/transport/SeamRaftTransport.js"
import { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import * as Raft from "../../../src/raft/RaftNode.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { committedIndex } from "../../../services/raft/LogEntry.js"
import type { Committed, LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { advanceUntil, awaitLeader, bytes, FAST, startCluster, text } from "./fixture.js"

const ids = ["n1", "n2", "n3"]
const three = { ids, cluster: ClusterConfig.ofVoters(...ids) }

/** A disk holding `n` committed-elsewhere commands at term 1, written through the storage API. */
const prefilledDisk = (n: number) =>
  Effect.gen(function*() {
    const disk = InMemoryRaftStorage.Disk.make()
    const storage = yield* InMemoryRaftStorage.make({ disk })
    const chunk = 10_000
    for (let from = 1; from <= n; from += chunk) {
      const append: Array<LogEntry> = []
      for (let i = from; i < Math.min(n + 1, from + chunk); i++) {
        append.push({ _tag: "Command", index: i, term: 1, command: bytes(`e${i}`), dedupKey: { clientId: "writer" as ClientId, requestId: i } })
      }
      yield* storage.write({ append, ...(from === 1 ? { hardState: { term: 1, votedFor: "n1" as NodeId } } : {}) })
    }
    return disk
  })

/**
 * A subscriber that checks order as it goes: each item's index is the next one expected. With
 * `pauseAt` it sleeps (virtual time) on reaching that index, as a busy consumer would.
 */
const checker = (stream: Stream.Stream<Committed>, until: number, pauseAt = Infinity) =>
  Effect.gen(function*() {
    const state = yield* Ref.make({ next: 1, entries: 0, errors: [] as Array<string> })
    const fiber = yield* stream.pipe(
      Stream.takeUntil((c) => committedIndex(c) >= until),
      Stream.runForEach((c) =>
        Effect.flatMap(
          Ref.modify(state, (s) => {
            const index = committedIndex(c)
            const ok = c._tag === "Install" ? index >= s.next : index === s.next
            const entries = s.entries + (c._tag === "Entry" ? 1 : 0)
            return [index, { next: index + 1, entries, errors: ok ? s.errors : [...s.errors, `${index} after ${s.next - 1}`] }]
          }),
          (index) => (index === pauseAt ? Effect.sleep("1 seconds") : Effect.void)
        )
      ),
      Effect.fork
    )
    return { state, fiber }
  })

describe("the committed stream", () => {
  it.scoped("committedFrom(i) above the commit index waits for i: it never yields an index below i", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 41 })
      const leader = yield* awaitLeader(c)
      for (const s of ["a", "b", "c", "d", "e"]) yield* leader.node.propose(bytes(s))
      yield* TestClock.adjust("50 millis")
      const commit = yield* leader.node.commitIndex.get
      expect(commit).toBe(6)
      const from = commit + 3
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(leader.node.committedFrom(from), 2)))
      yield* TestClock.adjust("1 millis")
      for (const s of ["f", "g", "h", "i"]) yield* leader.node.propose(bytes(s))
      yield* TestClock.adjust("20 millis")
      const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      expect(got.map(committedIndex)).toEqual([9, 10])
      expect(got.map((x) => (x._tag === "Entry" ? text(x.entry.command) : ""))).toEqual(["h", "i"])
    }))

  for (const n of [10_000, 100_000]) {
    it.scoped(`a cluster restarted on ${n.toLocaleString("en")} committed entries replays them to every subscriber once, in order, and commits again`, () =>
      Effect.gen(function*() {
        const disks = Object.fromEntries(yield* Effect.forEach(ids, (id) => Effect.map(prefilledDisk(n), (d) => [id, d] as const)))
        const c = yield* startCluster({ ...three, seed: 42, disks })
        // Three subscribers per node before anything commits: two replays and the live stream.
        const subs = yield* Effect.forEach(c.nodes, (node) =>
          Effect.all([
            checker(node.node.committedFrom(1), n + 2),
            checker(node.node.committedFrom(1), n + 2),
            checker(Stream.concat(Stream.empty, node.node.committed), n + 2)
          ]))
        const leader = yield* awaitLeader(c, 5_000)
        yield* advanceUntil(Effect.map(leader.node.commitIndex.get, (i) => i > n), 2_000, "the leader's no-op to commit")
        const fresh = yield* leader.node.propose(bytes("after-restart"))
        expect(fresh.index).toBe(n + 2)
        yield* advanceUntil(
          Effect.map(Effect.forEach(subs.flat(), (s) => Effect.map(Ref.get(s.state), (x) => x.next)), (xs) => xs.every((x) => x > n + 2)),
          2_000,
          `every subscriber to reach ${n + 2}`
        )
        for (const [i, group] of subs.entries()) {
          for (const [k, s] of group.entries()) {
            yield* Fiber.join(s.fiber)
            const st = yield* Ref.get(s.state)
            expect(st.errors, `${c.nodes[i]!.id} subscriber ${k}`).toEqual([])
            // The replays see every entry, the live one every entry after it subscribed, ending
            // with the one proposed after the restart.
            if (k < 2) expect(st.entries, `${c.nodes[i]!.id} subscriber ${k}`).toBe(n + 1)
            else expect(st.next, `${c.nodes[i]!.id} subscriber ${k}`).toBe(n + 3)
          }
        }
      }), 120_000)
  }

  for (const n of [10_000, 100_000]) {
    it.scoped(`a lone voter restarted on ${n.toLocaleString("en")} entries, subscribed to while its first write is in flight, replays them and commits again`, () =>
      Effect.gen(function*() {
        // The write of the restarted node's first turn waits for the test (a slow disk). A replay
        // requested meanwhile must not wait for the engine, nor the engine for it: the old design
        // subscribed to a 4,096-item buffer, then asked the engine's mailbox for the replay, and
        // the engine — handing out n entries once the write completed — filled that buffer first.
        const disk = yield* prefilledDisk(n)
        const inner = yield* InMemoryRaftStorage.make({ disk })
        const gate = yield* Deferred.make<void>()
        const storage: RaftStorageShape = {
          load: inner.load,
          entries: inner.entries,
          write: (batch) => Effect.zipRight(Deferred.await(gate), inner.write(batch))
        }
        const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(64), seed: 1 })
        const seam = yield* loom.host({ sessionName: "solo", peerKey: "solo", maxPeers: 4 })
        const node = yield* Raft.make({ cluster: ClusterConfig.ofVoters("solo"), transport: SeamRaftTransport.fromSeam(seam), storage, config: FAST })
        yield* TestClock.adjust("1 millis")
        const subs = yield* Effect.all([checker(node.committedFrom(1), n + 2), checker(node.committedFrom(1), n + 2)])
        yield* TestClock.adjust("1 millis")
        yield* Deferred.succeed(gate, undefined)
        yield* advanceUntil(Effect.map(node.commitIndex.get, (i) => i > n), 1_000, "the no-op to commit")
        const fresh = yield* node.propose(bytes("after-restart"))
        expect(fresh.index).toBe(n + 2)
        for (const s of subs) {
          yield* advanceUntil(Effect.map(Ref.get(s.state), (x) => x.next > n + 2), 1_000, `a subscriber to reach ${n + 2}`)
          yield* Fiber.join(s.fiber)
          const st = yield* Ref.get(s.state)
          expect(st.errors).toEqual([])
          expect(st.entries).toBe(n + 1)
        }
      }), 120_000)
  }

  it.scoped("a subscriber asleep while the cluster commits 50,000 entries holds up neither the cluster nor the other subscribers, then catches up", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 43 })
      const leader = yield* awaitLeader(c)
      const follower = c.nodes.find((x) => x !== leader)!
      const total = 50_000
      const sleeperSeen = yield* Ref.make(0)
      const sleeper = yield* follower.node.committed.pipe(
        Stream.filter((x) => x._tag === "Entry"),
        Stream.take(total),
        Stream.runForEach(() =>
          Effect.flatMap(Ref.getAndUpdate(sleeperSeen, (k) => k + 1), (k) => (k === 0 ? Effect.sleep("2 seconds") : Effect.void))
        ),
        Effect.fork
      )
      const fast = yield* checker(follower.node.committed, Infinity)
      yield* TestClock.adjust("1 millis")
      // 50,000 proposals, 500 at a time, with virtual time standing still: the sleeper never wakes.
      for (let k = 0; k < total; k += 500) {
        yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => k + i), (i) => leader.node.propose(bytes(`p${i}`)), { concurrency: "unbounded", discard: true })
      }
      const commit = yield* leader.node.commitIndex.get
      expect(commit).toBeGreaterThanOrEqual(total + 1)
      yield* advanceUntil(Effect.map(Ref.get(fast.state), (s) => s.entries >= total), 100, "the fast subscriber to see every entry")
      expect((yield* Ref.get(fast.state)).errors).toEqual([])
      expect(yield* Ref.get(sleeperSeen)).toBe(1)
      // It wakes up and reads everything it missed, in order.
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(sleeper)
      expect(yield* Ref.get(sleeperSeen)).toBe(total)
      yield* Fiber.interrupt(fast.fiber)
    }), 120_000)

  it.scoped("a slow subscriber overtaken by compaction continues from Install(latest snapshot), each index once", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 44 })
      const leader = yield* awaitLeader(c)
      yield* TestClock.adjust("20 millis")
      const seen = yield* Ref.make<Array<Committed>>([])
      const slow = yield* leader.node.committedFrom(1).pipe(
        Stream.mapEffect((x) =>
          Effect.zipRight(Ref.update(seen, (xs) => [...xs, x]), committedIndex(x) === 1 ? Effect.sleep("2 seconds") : Effect.void).pipe(Effect.as(x))
        ),
        Stream.takeUntil((x) => committedIndex(x) >= 11),
        Stream.runDrain,
        Effect.fork
      )
      yield* TestClock.adjust("1 millis")
      for (let i = 2; i <= 11; i++) yield* leader.node.propose(bytes(`v${i}`))
      yield* leader.node.publishSnapshot({ throughIndex: 8, state: bytes("state@8") })
      yield* advanceUntil(Effect.map(leader.node.compactionFloor.get, (f) => f === 8), 50, "the compaction")
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(slow)
      const got = yield* Ref.get(seen)
      expect(got.map((x) => `${x._tag}:${committedIndex(x)}`)).toEqual(["Internal:1", "Install:8", "Entry:9", "Entry:10", "Entry:11"])
      const install = got[1]!
      expect(install._tag === "Install" && text(install.snapshot.state)).toBe("state@8")
    }))

  it.scoped("the streams end when the node closes, after what was handed out", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 45 })
      const leader = yield* awaitLeader(c)
      for (const s of ["a", "b"]) yield* leader.node.propose(bytes(s))
      const replay = yield* Effect.fork(Stream.runCollect(leader.node.committedFrom(1)))
      const live = yield* Effect.fork(Stream.runCollect(leader.node.committed))
      yield* TestClock.adjust("1 millis")
      yield* leader.node.close
      expect(Chunk.toReadonlyArray(yield* Fiber.join(replay)).map(committedIndex)).toEqual([1, 2, 3])
      expect(Chunk.size(yield* Fiber.join(live))).toBe(0)
    }))
})
