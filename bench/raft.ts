/**
 * Raft benchmark (issue: Raft engine): three in-process voters over InMemoryLoom on the real clock,
 * 16-byte commands. Measures sequential propose→commit latency, throughput with 1/16/256
 * concurrent proposers, time to first leader and re-election after a leader crash, and, in the
 * same run and over the same fabric, a "null consensus" baseline: the leader broadcasts the
 * payload and waits for a majority of acks, with no log, no storage and no protocol.
 */
import { Effect, Exit, Scope, Stream } from "effect"
import { InMemoryLoom } from "../layers/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../layers/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../layers/SeamRaftTransport.js"
import { DeliveryPolicy } from "../services/DeliveryPolicy.js"
import type { Seam } from "../services/Seam.js"
import { ClusterConfig } from "../services/raft/ClusterConfig.js"
import type { RaftNode } from "../services/raft/RaftNode.js"
import * as Raft from "../src/raft/RaftNode.js"
import { emit, now, round, sampleRss, summarize } from "./stats.js"

const IDS = ["n1", "n2", "n3"] as const
const COMMAND = new Uint8Array(16).fill(7)
const POLICY = DeliveryPolicy.lossy(1 << 16)

interface Cluster {
  readonly nodes: Array<RaftNode>
  readonly scopes: Array<Scope.CloseableScope>
}

const weave = (loom: InMemoryLoom, id: string, i: number, scope: Scope.Scope) =>
  (i === 0
    ? loom.host({ sessionName: "bench", peerKey: id, maxPeers: 16 })
    : loom.join({ sessionName: "bench", peerKey: id })).pipe(Scope.extend(scope))

const startCluster = Effect.gen(function*() {
  const loom = yield* InMemoryLoom.make({ policy: POLICY })
  const cluster = ClusterConfig.ofVoters(...IDS)
  const nodes: Array<RaftNode> = []
  const scopes: Array<Scope.CloseableScope> = []
  for (const [i, id] of IDS.entries()) {
    const scope = yield* Scope.make()
    const seam = yield* weave(loom, id, i, scope)
    const storage = yield* InMemoryRaftStorage.make()
    const node = yield* Raft.make({ cluster, transport: SeamRaftTransport.fromSeam(seam), storage }).pipe(
      Scope.extend(scope)
    )
    nodes.push(node)
    scopes.push(scope)
  }
  return { nodes, scopes } satisfies Cluster
})

const awaitLeader = (nodes: ReadonlyArray<RaftNode>) =>
  Effect.raceAll(nodes.map((n) => n.awaitLeadership.pipe(Effect.as(n))))

const sequential = (propose: () => Effect.Effect<unknown, unknown>, n: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < n; i++) {
      const t0 = now()
      yield* propose()
      samples.push(now() - t0)
    }
    return summarize(samples)
  })

const throughput = (propose: () => Effect.Effect<unknown, unknown>, proposers: number, ms: number) =>
  Effect.gen(function*() {
    let done = 0
    const end = now() + ms
    const worker = Effect.gen(function*() {
      while (now() < end) {
        yield* propose()
        done++
      }
    })
    const t0 = now()
    yield* Effect.forEach(Array.from({ length: proposers }), () => worker, { concurrency: "unbounded", discard: true })
    sampleRss()
    return Math.round(done / ((now() - t0) / 1000))
  })

// ------------------------------------------------------------------ null consensus baseline

/**
 * The leader sends each payload to both followers and waits for one follower's ack (a majority
 * of three with itself). Acks resolve callers through a plain map, the engine's own technique,
 * so the comparison isolates what Raft adds.
 */
const startNullConsensus = Effect.gen(function*() {
  const loom = yield* InMemoryLoom.make({ policy: POLICY })
  const scope = yield* Effect.scope
  const seams: Array<Seam> = []
  for (const [i, id] of IDS.entries()) seams.push(yield* weave(loom, id, i, scope))
  const [leader, ...followers] = seams as [Seam, Seam, Seam]
  // Followers echo the 8-byte id back to the sender.
  for (const f of followers) {
    yield* f.incoming.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.forEach(chunk, (sw) => Effect.ignore(f.sendTo(sw.sender, sw.payload.subarray(0, 8))), { discard: true })
      ),
      Effect.forkScoped
    )
  }
  const waiters = new Map<number, () => void>()
  const early = new Set<number>()
  yield* leader.incoming.pipe(
    Stream.runForEachChunk((chunk) =>
      Effect.sync(() => {
        for (const sw of chunk) {
          const id = new DataView(sw.payload.buffer, sw.payload.byteOffset, 8).getFloat64(0)
          const w = waiters.get(id)
          if (w !== undefined) {
            waiters.delete(id)
            w()
          } else if (id >= next - 1_000_000) {
            // The first ack of an id resolves it; the second (the other follower) is ignored.
            early.add(id)
          }
        }
      })
    ),
    Effect.forkScoped
  )
  let next = 1
  const done = new Set<number>()
  const propose = () =>
    Effect.suspend(() => {
      const id = next++
      const frame = new Uint8Array(8 + COMMAND.byteLength)
      new DataView(frame.buffer).setFloat64(0, id)
      frame.set(COMMAND, 8)
      return leader.broadcast(frame).pipe(
        Effect.zipRight(Effect.async<void>((resume) => {
          if (early.delete(id) || done.has(id)) return resume(Effect.void)
          waiters.set(id, () => {
            done.add(id)
            resume(Effect.void)
          })
        })),
        Effect.ensuring(Effect.sync(() => {
          done.delete(id)
          early.delete(id)
        }))
      )
    })
  return propose
})

export const runRaftBench = Effect.scoped(Effect.gen(function*() {
  const t0 = now()
  const cluster = yield* startCluster
  const leader = yield* awaitLeader(cluster.nodes)
  const firstLeaderMs = now() - t0
  const propose = () => leader.propose(COMMAND)
  yield* throughput(propose, 16, 300) // warm-up

  const seq = yield* sequential(propose, 3000)
  emit({ bench: "raft.sequential", ...seq })
  for (const k of [1, 16, 256]) {
    emit({ bench: `raft.throughput.${k}`, commits_per_s: yield* throughput(propose, k, 2000) })
  }
  emit({ bench: "raft.first_leader", ms: round(firstLeaderMs) })

  const i = cluster.nodes.indexOf(leader)
  const tCrash = now()
  yield* Scope.close(cluster.scopes[i]!, Exit.void)
  yield* awaitLeader(cluster.nodes.filter((_, j) => j !== i))
  emit({ bench: "raft.reelection_after_crash", ms: round(now() - tCrash) })
  for (const [j, s] of cluster.scopes.entries()) if (j !== i) yield* Scope.close(s, Exit.void)
}))

export const runNullBench = Effect.scoped(Effect.gen(function*() {
  const propose = yield* startNullConsensus
  yield* throughput(propose, 16, 300) // warm-up
  emit({ bench: "null.sequential", ...(yield* sequential(propose, 3000)) })
  for (const k of [1, 16, 256]) {
    emit({ bench: `null.throughput.${k}`, commits_per_s: yield* throughput(propose, k, 2000) })
  }
}))
