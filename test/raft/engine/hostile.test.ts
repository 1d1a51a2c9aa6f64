import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, FastCheck, Fiber, Stream, TestClock } from "effect"
import { encodeRaftMessage } from "../../../src/codec/raft/RaftCodec.js"
import { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { awaitLeader, bytes, startCluster } from "./fixture.js"

const ids = ["n1", "n2", "n3"]

describe("hostile frames reaching a running node", () => {
  it.scoped("garbage, truncated and random well-formed frames are dropped and traced; the cluster keeps committing", () =>
    Effect.gen(function*() {
      const c = yield* startCluster({ ids, cluster: ClusterConfig.ofVoters(...ids), seed: 5 })
      const leader = yield* awaitLeader(c)
      const victims = c.nodes
      const traces = yield* Effect.forEach(victims, (n) =>
        Effect.fork(Stream.runCollect(n.node.trace.pipe(
          Stream.filter((e: RaftTraceEvent) => e._tag === "FrameUndecodable" || e._tag === "FrameRefused"),
          Stream.take(5)
        ))))
      yield* TestClock.adjust("1 millis")
      const garbage: Array<Uint8Array> = [
        new Uint8Array(0),
        Uint8Array.of(1),
        Uint8Array.of(9, 9, 9),
        new Uint8Array(70_000).fill(0xff),
        encodeRaftMessage({ _tag: "TimeoutNow", term: 1 }).subarray(0, 1)
      ]
      // Well-formed frames with random contents (huge terms, absurd indices, forged responses).
      const random = FastCheck.sample(Arbitrary.make(RaftMessage), { numRuns: 200, seed: 11 }).map(encodeRaftMessage)
      for (const target of victims) {
        for (const frame of [...garbage, ...random]) {
          yield* c.loom.faults.inject(target.id as PeerId, "n-intruder" as PeerId, frame).pipe(Effect.ignore)
          const other = victims.find((v) => v !== target)!
          yield* c.loom.faults.inject(target.id as PeerId, other.id as PeerId, frame).pipe(Effect.ignore)
        }
      }
      yield* TestClock.adjust("5 millis")
      for (const f of traces) expect([...(yield* Fiber.join(f))].length).toBe(5)
      // Nobody died, and the cluster still makes progress (perhaps under a new leader).
      const now = yield* awaitLeader(c)
      const e = yield* now.node.propose(bytes("still alive"))
      expect(e.index).toBeGreaterThan(1)
      // Every node (including the original leader) still commits what the cluster commits.
      yield* TestClock.adjust("50 millis")
      for (const n of victims) expect(yield* n.node.commitIndex.get).toBeGreaterThanOrEqual(e.index)
      expect(yield* leader.node.commitIndex.get).toBeGreaterThanOrEqual(e.index)
    }))
})
