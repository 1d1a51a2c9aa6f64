/**
 * The membership gate through the engine: forged frames injected into a running cluster from a
 * peer that is in no configuration change nothing and are counted by reason (also as Effect
 * metrics); a joiner must say whom it trusts; a node that keeps refusing a leader suspects a wedge
 * and shows it in its health; slow proposals and election timeouts are reported.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Logger, Metric, MetricLabel, Stream, TestClock } from "effect"
import { InMemoryLoom } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../../layers/raft/transport/SeamRaftTransport.js"
import { encodeRaftMessage } from "../../../src/codec/raft/RaftCodec.js"
import type { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { RaftMetric } from "../../../services/raft/RaftTrace.js"
import * as Raft from "../../../src/raft/RaftNode.js"
import { refusedFrames } from "../../../src/raft/engine/RaftMetrics.js"
import { WEDGE_RUN } from "../../../src/raft/core/Wedge.js"
import { advanceUntil, awaitLeader, bytes, FAST, startCluster, text } from "./fixture.js"

const ids = ["n1", "n2", "n3"]
const three = { ids, cluster: ClusterConfig.ofVoters(...ids) }
const intruder = "x-intruder" as PeerId

/** The `kuilt_raft_refused_frames_total` count of `node` for `reason`. */
const refusedCount = (node: string, reason: string) =>
  Effect.map(
    Metric.value(Metric.taggedWithLabels(refusedFrames, [MetricLabel.make("node", node), MetricLabel.make("reason", reason)])),
    (s) => s.count as number
  )

/** Frames forged against `term` (the victims' current term): every request kind, high terms. */
const forged = (term: number, last: number): Array<RaftMessage> => [
  {
    _tag: "AppendEntries",
    term: term + 5,
    prevLogIndex: last,
    prevLogTerm: term,
    entries: [{ _tag: "Command", index: last + 1, term: term + 5, command: bytes("forged"), dedupKey: { clientId: "evil" as never, requestId: 1 } }],
    leaderCommit: last + 1,
    round: 0
  },
  {
    _tag: "InstallSnapshot",
    term: term + 5,
    lastIncludedIndex: last + 10,
    lastIncludedTerm: term + 5,
    offset: 0,
    totalBytes: 4,
    data: bytes("evil"),
    done: true,
    config: ConfigPayload.make({ new: ClusterConfig.ofVoters("x-intruder") }),
    round: 0
  },
  { _tag: "RequestVote", term: term + 50, lastLogIndex: last + 1000, lastLogTerm: term + 50, leadershipTransfer: true },
  { _tag: "PreVote", term: term + 50, lastLogIndex: last + 1000, lastLogTerm: term + 50, round: 1 },
  { _tag: "TimeoutNow", term },
  { _tag: "Forward", clientRequestId: 1, command: bytes("forged-forward"), dedupKey: { clientId: "evil" as never, requestId: 2 } },
  { _tag: "ReadIndexRequest", requestId: 1 }
]

describe("forged frames through the engine", () => {
  it.scoped("a peer in no configuration changes no term, log or commit on three voters; refusals are counted by reason", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ...three, seed: 31 })
      const leader = yield* awaitLeader(c)
      for (const s of ["a", "b", "c"]) yield* leader.node.propose(bytes(s))
      yield* TestClock.adjust("50 millis")
      const applied = yield* Effect.forEach(c.nodes, (n) =>
        Effect.fork(Stream.runCollect(n.node.committedFrom(1).pipe(Stream.filter((x) => x._tag === "Entry"), Stream.take(4)))))
      const before = yield* Effect.forEach(c.nodes, (n) => Effect.all({ term: n.node.term.get, commit: n.node.commitIndex.get }))
      const counted = yield* Effect.forEach(c.nodes, (n) => refusedCount(n.id, "NotAMember"))
      const term = before[0]!.term
      const frames = forged(term, before[0]!.commit)
      for (let round = 0; round < 10; round++) {
        for (const n of c.nodes) for (const f of frames) yield* c.loom.faults.inject(n.id as PeerId, intruder, encodeRaftMessage(f))
        yield* TestClock.adjust("5 millis")
      }
      const after = yield* Effect.forEach(c.nodes, (n) => Effect.all({ term: n.node.term.get, commit: n.node.commitIndex.get }))
      expect(after).toEqual(before)
      expect(yield* c.leader).toBe(leader)
      const nowCounted = yield* Effect.forEach(c.nodes, (n) => refusedCount(n.id, "NotAMember"))
      for (let i = 0; i < c.nodes.length; i++) expect(nowCounted[i]! - counted[i]!).toBe(10 * frames.length)
      // The cluster goes on; what every node applies is what the cluster committed, nothing forged.
      yield* leader.node.propose(bytes("d"))
      yield* TestClock.adjust("50 millis")
      for (const f of applied) {
        const got = Chunk.toReadonlyArray(yield* Fiber.join(f)).map((x) => (x._tag === "Entry" ? text(x.entry.command) : ""))
        expect(got).toEqual(["a", "b", "c", "d"])
      }
    }))

  it.scoped("a node that keeps refusing a leader's frames suspects a wedge: metric, trace, warning log and health", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") logs.push(String(Array.isArray(message) ? message.join(" ") : message))
      })
      yield* Effect.gen(function*() {
        const c = yield* startCluster({ ...three, seed: 32 })
        const leader = yield* awaitLeader(c)
        const victim = c.nodes.find((n) => n !== leader)!
        const metrics = yield* Effect.fork(Stream.runCollect(victim.node.metrics.pipe(
          Stream.filter((m: RaftMetric) => m._tag === "WedgeSuspected"),
          Stream.take(1)
        )))
        yield* TestClock.adjust("1 millis")
        expect((yield* victim.node.health).wedge).toBeNull()
        const term = yield* victim.node.term.get
        const frame = encodeRaftMessage({ _tag: "AppendEntries", term, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 0 })
        for (let i = 0; i < WEDGE_RUN; i++) yield* c.loom.faults.inject(victim.id as PeerId, intruder, frame)
        yield* TestClock.adjust("1 millis")
        const [wedge] = Chunk.toReadonlyArray(yield* Fiber.join(metrics))
        expect(wedge).toMatchObject({ _tag: "WedgeSuspected", reason: "RefusedLeaderFrames", leader: intruder, leaderTerm: term })
        const health = yield* victim.node.health
        expect(health).toMatchObject({
          node: victim.id,
          role: "Follower",
          term,
          leader: leader.id,
          wedge: { reason: "RefusedLeaderFrames", leader: intruder, leaderTerm: term },
          stopped: false
        })
        expect(logs.some((l) => l.includes("suspected wedge (RefusedLeaderFrames)"))).toBe(true)
        // Its applied index moves again: the suspicion clears.
        yield* leader.node.propose(bytes("moves"))
        yield* advanceUntil(Effect.map(victim.node.health, (h) => h.wedge === null), 100, "the wedge to clear")
        const healed = yield* victim.node.health
        expect(healed.appliedIndex).toBe(healed.commitIndex)
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    }))
})

describe("joiners through RaftNode.make", () => {
  it.scoped("a node that starts with no voters must name whom it joins through", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(64), seed: 1 })
      const seam = yield* loom.host({ sessionName: "j", peerKey: "j", maxPeers: 4 })
      const storage = yield* InMemoryRaftStorage.make()
      const error = yield* Raft.make({ cluster: ClusterConfig.of([], ["j"]), transport: SeamRaftTransport.fromSeam(seam), storage }).pipe(Effect.flip)
      expect(error._tag).toBe("RaftConfigError")
      expect(error.reason).toContain("joinVia")
      const ok = yield* Raft.make({ cluster: ClusterConfig.of([], ["j"]), transport: SeamRaftTransport.fromSeam(seam), storage, joinVia: ["n1"] })
      expect(yield* ok.role.get).toBe("Learner")
    }))
})

describe("slow proposals, proposal and election metrics", () => {
  it.scoped("a proposal slower than slowProposeThreshold logs a warning with its index; ProposeCommitted, ProposeApplied and ElectionTimedOut are reported", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") logs.push(String(Array.isArray(message) ? message.join(" ") : message))
      })
      yield* Effect.gen(function*() {
        const c = yield* startCluster({ ...three, seed: 33, config: { ...FAST, slowProposeThreshold: 40 } })
        const n1 = c.byId("n1")
        const metrics = yield* Effect.fork(Stream.runCollect(n1.node.metrics.pipe(
          Stream.filter((m: RaftMetric) => m._tag === "ProposeApplied" || m._tag === "ProposeCommitted"),
          Stream.takeUntil((m) => m._tag === "ProposeApplied" && m.logIndex > 2)
        )))
        const timeouts: Array<string> = []
        for (const n of c.nodes) {
          yield* n.node.metrics.pipe(
            Stream.runForEach((m) => Effect.sync(() => m._tag === "ElectionTimedOut" && timeouts.push(n.id))),
            Effect.forkScoped
          )
        }
        yield* TestClock.adjust("1 millis")
        // Proposed before any leader exists: it waits for the election, well over 40 ms.
        const slow = yield* Effect.fork(n1.node.propose(bytes("slow")))
        yield* awaitLeader(c)
        yield* advanceUntil(Effect.map(Fiber.poll(slow), (o) => o._tag === "Some"), 200, "the slow proposal")
        const entry = yield* Fiber.join(slow)
        expect(logs.some((l) => l.includes(`index ${entry.index}`) && l.includes("slow proposal"))).toBe(true)
        // A fast one: no warning for it.
        const fast = yield* n1.node.propose(bytes("fast"))
        yield* TestClock.adjust("20 millis")
        expect(logs.some((l) => l.includes(`index ${fast.index} `))).toBe(false)
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(metrics))
        expect(timeouts.length).toBeGreaterThan(0)
        expect(seen).toContainEqual(expect.objectContaining({ _tag: "ProposeCommitted", logIndex: entry.index }))
        expect(seen).toContainEqual(expect.objectContaining({ _tag: "ProposeApplied", logIndex: entry.index }))
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    }))
})
