/**
 * B8 — lost un-fsynced writes and torn write-ahead logs.
 *
 * Real instances: etcd #14143, #14098, #14140, #14370 (data loss / inconsistency after a crash
 * that lost writes the process believed durable), etcd #6368 (no fsync of the parent directory
 * after a rename), NATS 2.12.1. Symptoms: a node restarts on a log with a hole or a tail from an
 * older term and keeps going, or an acknowledged write vanishes.
 *
 * Engine level (RaftNode over InMemoryLoom, TestClock, InMemoryRaftStorage disks):
 *   1. detection: a follower's disk is replaced by its own durable state with a torn tail — an
 *      entry after a hole, a tail entry whose term goes backwards, a tail entry from a term the
 *      hard state never reached. The node must refuse to start (`CorruptDurableState`) without
 *      writing anything; the majority keeps committing; restored, the node catches up;
 *   2. a minority loses data: every disk acknowledges writes before syncing them (`onSync`); one
 *      follower crashes and keeps none (or only some) of its pending batches — entries it had
 *      acknowledged. The leader, whose progress still says the victim holds everything, hands it
 *      leadership (transfer): its election must fail. Then whoever leads is cut off, so the
 *      survivors must elect between the follower that holds every acknowledged write and the one
 *      that lost some. No acknowledged write may be lost anywhere; every node converges.
 * (Losing pending data on a MAJORITY can lose acknowledged writes: Raft assumes durable storage.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Option, Random, Scope, Stream, TestClock } from "effect"
import { InMemoryLoom } from "../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../layers/raft/transport/SeamRaftTransport.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import { committedIndex } from "../../services/raft/LogEntry.js"
import type { CommandEntry, LogEntry } from "../../services/raft/LogEntry.js"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import type { DurableState } from "../../services/raft/RaftStorage.js"
import * as Raft from "../../src/raft/RaftNode.js"
import { advanceUntil, bytes, FAST, text } from "../raft/engine/fixture.js"

const ids = ["n1", "n2", "n3"]
const peer = (s: string) => s as PeerId

interface Member {
  readonly id: string
  readonly disk: InMemoryRaftStorage.Disk
  node: RaftNodeShape | undefined
  scope: Scope.CloseableScope | undefined
}

/** Three voters, each on its own disk of the given durability; a node can crash and restart on its disk. */
const cluster = (seed: number, durability: InMemoryRaftStorage.Durability) =>
  Effect.gen(function*() {
    const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(4096), seed })
    const members: Array<Member> = ids.map((id) => ({ id, disk: InMemoryRaftStorage.Disk.make({ durability }), node: undefined, scope: undefined }))
    let incarnation = 0
    const start = (m: Member, first: boolean) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const seam = yield* (first && m.id === "n1"
          ? loom.host({ sessionName: "raft", peerKey: m.id, maxPeers: 16 })
          : loom.join({ sessionName: "raft", peerKey: m.id })).pipe(Scope.extend(scope))
        const storage = yield* InMemoryRaftStorage.make({ disk: m.disk })
        const started = yield* Raft.make({
          cluster: ClusterConfig.ofVoters(...ids),
          transport: SeamRaftTransport.fromSeam(seam),
          storage,
          config: FAST
        }).pipe(Scope.extend(scope), Effect.withRandom(Random.make(seed * 1000 + incarnation++)), Effect.either)
        if (Either.isLeft(started)) {
          yield* Scope.close(scope, Exit.void)
          return started
        }
        m.node = started.right
        m.scope = scope
        return started
      })
    for (const m of members) Either.getOrThrow(yield* start(m, true))
    yield* Effect.addFinalizer(() => Effect.forEach(members, (m) => (m.scope !== undefined ? Scope.close(m.scope, Exit.void) : Effect.void)))
    const byId = (id: string) => members.find((m) => m.id === id)!
    return {
      loom,
      members,
      byId,
      crash: (id: string) =>
        Effect.gen(function*() {
          const m = byId(id)
          yield* Scope.close(m.scope!, Exit.void)
          m.scope = undefined
          m.node = undefined
        }),
      restart: (id: string) => start(byId(id), false),
      leader: (among: ReadonlyArray<string> = ids) =>
        Effect.gen(function*() {
          for (const m of members) {
            if (m.node !== undefined && among.includes(m.id) && (yield* m.node.role.get) === "Leader") return m
          }
          return undefined
        })
    }
  })

type Cluster = Effect.Effect.Success<ReturnType<typeof cluster>>

const awaitLeader = (c: Cluster, among: ReadonlyArray<string> = ids) =>
  Effect.gen(function*() {
    yield* advanceUntil(Effect.map(c.leader(among), (l) => l !== undefined), 3000, `a leader among ${among.join(",")}`)
    return (yield* c.leader(among))!
  })

const allCommitted = (c: Cluster, index: number) =>
  Effect.gen(function*() {
    for (const m of c.members) if (m.node === undefined || (yield* m.node.commitIndex.get) < index) return false
    return true
  })

/** What `node` hands its consumer from index 1 through `through`: index → command text. */
const appliedThrough = (node: RaftNodeShape, through: number) =>
  node.committedFrom(1).pipe(
    Stream.takeUntil((c) => committedIndex(c) >= through),
    Stream.runFold(new Map<number, string>(), (acc, c) => {
      if (c._tag === "Entry") acc.set(c.entry.index, text(c.entry.command))
      return acc
    })
  )

const proposeAll = (node: RaftNodeShape, prefix: string, n: number) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => `${prefix}${i}`), (s) => node.propose(bytes(s)))

describe("B8 torn tails are detected; a minority losing un-synced writes loses no acknowledged write", () => {
  const torn: Array<[string, (good: DurableState) => DurableState, RegExp]> = [
    ["an entry after a hole", (g) => ({ ...g, entries: [...g.entries, { ...g.entries.at(-1)!, index: g.entries.at(-1)!.index + 2 }] }), /not contiguous/],
    [
      "a tail entry whose term goes backwards",
      (g) => ({ ...g, entries: [...g.entries, { _tag: "NoOp", index: g.entries.at(-1)!.index + 1, term: g.entries.at(-1)!.term - 1 } satisfies LogEntry] }),
      /terms decrease/
    ],
    [
      "a tail entry from a term the hard state never reached",
      (g) => ({ ...g, entries: [...g.entries, { _tag: "NoOp", index: g.entries.at(-1)!.index + 1, term: g.hardState.term + 1 } satisfies LogEntry] }),
      /above the hard-state term/
    ]
  ]

  it.scoped("a follower whose log tail is torn refuses to start with CorruptDurableState, and nothing else breaks", () =>
    Effect.gen(function*() {
      const c = yield* cluster(81, "immediate")
      const leader = yield* awaitLeader(c)
      const written = yield* proposeAll(leader.node!, "w", 3)
      yield* advanceUntil(allCommitted(c, written.at(-1)!.index), 500, "everyone to commit")
      const victim = c.members.find((m) => m !== leader)!
      yield* c.crash(victim.id)
      const good = victim.disk.durableState()
      expect(good.entries.length).toBeGreaterThanOrEqual(2)
      for (const [what, tear, why] of torn) {
        victim.disk.plant(tear(good))
        const writes = victim.disk.writeCount
        const started = yield* c.restart(victim.id)
        expect(Either.isLeft(started), what).toBe(true)
        if (Either.isLeft(started)) {
          expect(started.left._tag, what).toBe("CorruptDurableState")
          expect(started.left.message, what).toMatch(why)
        }
        expect(victim.disk.writeCount, what).toBe(writes)
        // The majority does not notice.
        yield* leader.node!.propose(bytes(`during ${what}`))
      }
      victim.disk.plant(good)
      Either.getOrThrow(yield* c.restart(victim.id))
      const last = yield* leader.node!.propose(bytes("after repair"))
      yield* advanceUntil(allCommitted(c, last.index), 1000, "the repaired follower to catch up")
    }))

  for (const keep of ["none", 2] as const) {
    it.scoped(`a follower that crashes keeping ${keep === "none" ? "none" : "the first 2"} of its pending batches loses no acknowledged write`, () =>
      Effect.gen(function*() {
        const c = yield* cluster(keep === "none" ? 82 : 83, "onSync")
        const l = yield* awaitLeader(c)
        const early = yield* proposeAll(l.node!, "early", 2)
        yield* advanceUntil(allCommitted(c, early.at(-1)!.index), 500, "everyone to commit")
        // A checkpoint: every disk syncs. From here on nothing is synced.
        for (const m of c.members) m.disk.sync()
        const acked: Array<CommandEntry> = [...early, ...(yield* proposeAll(l.node!, "acked", 5))]
        const lastAcked = acked.at(-1)!.index
        yield* advanceUntil(allCommitted(c, lastAcked), 500, "everyone to commit")
        const [victim, keeper] = c.members.filter((m) => m !== l).sort((a, b) => (a.id === "n1" ? 1 : b.id === "n1" ? -1 : 0))
        expect(victim!.disk.pendingBatches).toBeGreaterThan(0)

        // The victim's machine dies: its page cache goes with it.
        yield* c.crash(victim!.id)
        victim!.disk.crash({ keep })
        const survived = victim!.disk.durableState().entries.at(-1)?.index ?? 0
        expect(survived, "the victim must really have lost acknowledged entries").toBeLessThan(lastAcked)
        Either.getOrThrow(yield* c.restart(victim!.id))
        const victimLed: Array<number> = []
        yield* victim!.node!.trace.pipe(
          Stream.runForEach((e) => Effect.sync(() => void (e._tag === "BecomeLeader" && victimLed.push(e.term)))),
          Effect.forkScoped
        )

        // The leader still believes the victim holds everything (it acknowledged it), so a
        // leadership transfer hands it TimeoutNow at once. Its election must fail: both others
        // hold acknowledged entries it lost.
        const term = yield* l.node!.term.get
        yield* Effect.fork(l.node!.transferLeadership(victim!.id as NodeId))
        yield* advanceUntil(Effect.map(victim!.node!.term.get, (t) => t > term), 500, "the victim to campaign")
        yield* TestClock.adjust("300 millis")
        // Then the old leader is cut off: the victim and the keeper must elect, and only the keeper
        // holds everything that was acknowledged.
        yield* c.loom.faults.isolate(peer(l.id))
        const next = yield* awaitLeader(c, [victim!.id, keeper!.id])
        expect(next.id).toBe(keeper!.id)
        expect(victimLed).toEqual([])
        const proposal = yield* Effect.fork(next.node!.propose(bytes("new leader")))
        yield* advanceUntil(Effect.map(Fiber.poll(proposal), Option.isSome), 1000, "the new leader to commit")
        const during = yield* Fiber.join(proposal)
        yield* c.loom.faults.healAll
        yield* advanceUntil(allCommitted(c, during.index), 2000, "every node to converge")
        for (const m of c.members) {
          const applied = yield* appliedThrough(m.node!, during.index)
          for (const e of acked) expect(applied.get(e.index), `${m.id} lost acknowledged ${text(e.command)}`).toBe(text(e.command))
          expect(applied.get(during.index)).toBe("new leader")
        }
      }))
  }
})
