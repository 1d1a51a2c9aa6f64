/**
 * Raft benchmark (issue: Raft engine): in-process nodes over InMemoryLoom on the real clock,
 * 16-byte commands. Every Raft figure is printed beside a baseline measured in the same run over
 * the same fabric (the machines are noisy, so only same-run ratios mean much):
 *
 * - "null consensus": the leader sends each payload to both followers and waits for one ack (a
 *   majority of three), with no log, no storage and no protocol. It reaches the fabric the way
 *   the Raft transport does (`SeamFastPath`: synchronous sends, frames drained by one fiber per
 *   node), so the ratio isolates what Raft adds. `null_seam.*` runs the same protocol through the
 *   public `Seam` API (`broadcast`, the `incoming` Stream) for reference.
 * - propose→commit latency (sequential) and throughput with 1/16/256 concurrent proposers, beside
 *   the null round trip;
 * - linearizable reads: `readIndex` on the leader and `readFence` on a follower and on a learner,
 *   beside the null round trip at the same concurrency;
 * - snapshot transfer: a 32 MiB state published on the leader and installed (InstallSnapshot) on
 *   a follower that starts late, beside 16 KiB frames sent over the same loom with one in flight
 *   (the shape of the transfer) and pipelined;
 * - time to first leader, re-election after a leader crash, and the process's peak RSS.
 *
 * Raft nodes compact their logs every 100 ms, as an application publishing its (8-byte) state
 * would; the snapshot-transfer nodes do not (their snapshot is the 32 MiB one).
 */
import { Effect, Exit, Option, Runtime, Scope, Stream } from "effect"
import { InMemoryLoom, type InMemoryLoomShape } from "../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../layers/raft/transport/SeamRaftTransport.js"
import { DeliveryPolicy } from "../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../services/seam/PeerId.js"
import type { SeamShape } from "../services/seam/Seam.js"
import { ClusterConfig } from "../services/raft/ClusterConfig.js"
import type { RaftNodeShape } from "../services/raft/RaftNode.js"
import * as Raft from "../src/raft/RaftNode.js"
import { SEAM_FAST_PATH } from "../src/seam/Inbox.js"
import type { SeamFastPath } from "../src/seam/Inbox.js"
import { emit, now, round, sampleRss, summarize } from "./stats.js"

const VOTERS = ["n1", "n2", "n3"] as const
const COMMAND = new Uint8Array(16).fill(7)
const POLICY = DeliveryPolicy.lossy(1 << 16)
const THROUGHPUT_MS = 2000
const SEQUENTIAL_N = 3000
const SNAPSHOT_BYTES = 32 * 1024 * 1024
const FRAME_BYTES = 16 * 1024

type Call = () => Effect.Effect<unknown, unknown>

// ------------------------------------------------------------------ measuring

/**
 * What a failed call does before the next: count it and, for Raft, find the new leader. Calls
 * fail only when leadership changes (possible on a loaded machine: a long GC pause is an
 * election timeout); every figure pays the same `catchAll`, baselines included.
 */
interface Recovery {
  readonly errors: number
  readonly recover: Effect.Effect<void>
}

const recovery = (relocate: Effect.Effect<void> = Effect.void) => {
  const r = {
    errors: 0,
    recover: Effect.suspend(() => {
      r.errors++
      return relocate
    })
  }
  return r satisfies Recovery
}

const withErrors = <A extends object>(figures: A, r: Recovery) => (r.errors === 0 ? figures : { ...figures, errors: r.errors })

const sequential = (call: Call, n: number, relocate?: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const r = recovery(relocate)
    const onError = () => r.recover
    const samples: Array<number> = []
    for (let i = 0; i < n; i++) {
      const t0 = now()
      yield* Effect.catchAll(call(), onError)
      samples.push(now() - t0)
    }
    return withErrors(summarize(samples), r)
  })

/** Successful calls per second (`per_s`) with `k` concurrent callers for `ms`. */
const throughput = (call: Call, k: number, ms: number, relocate?: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const r = recovery(relocate)
    const onError = () => r.recover
    let done = 0
    const end = now() + ms
    const worker = Effect.gen(function*() {
      while (now() < end) {
        yield* Effect.catchAll(call(), onError)
        done++
      }
    })
    const t0 = now()
    yield* Effect.forEach(Array.from({ length: k }), () => worker, { concurrency: "unbounded", discard: true })
    sampleRss()
    return withErrors({ per_s: Math.round((done - r.errors) / ((now() - t0) / 1000)) }, r)
  })

/** `throughput` as commits (the figure's name since the first version of this benchmark). */
const commits = (call: Call, k: number, ms: number, relocate?: Effect.Effect<void>) =>
  Effect.map(throughput(call, k, ms, relocate), ({ per_s, ...rest }) => ({ commits_per_s: per_s, ...rest }))

/** `throughput` as linearizable reads. */
const reads = (call: Call, k: number, ms: number, relocate?: Effect.Effect<void>) =>
  Effect.map(throughput(call, k, ms, relocate), ({ per_s, ...rest }) => ({ reads_per_s: per_s, ...rest }))

// ------------------------------------------------------------------ fabric helpers

const weave = (loom: InMemoryLoomShape, id: string, host: boolean, scope: Scope.Scope) =>
  (host
    ? loom.host({ sessionName: "bench", peerKey: id, maxPeers: 16 })
    : loom.join({ sessionName: "bench", peerKey: id })).pipe(Scope.extend(scope))

const fastPathOf = (seam: SeamShape): SeamFastPath => {
  const fast = (seam as Partial<Record<typeof SEAM_FAST_PATH, SeamFastPath>>)[SEAM_FAST_PATH]
  if (fast === undefined) throw new Error("InMemoryLoom seams carry a SeamFastPath")
  return fast
}

/**
 * One fiber that drains `seam`'s frames through its fast path and hands each to `onFrame`: the
 * same collector shape as a Raft node's (a wake-up per burst, then a synchronous drain).
 */
const collect = (seam: SeamShape, onFrame: (from: PeerId, payload: Uint8Array) => void) =>
  Effect.suspend(() => {
    let wake: (() => void) | undefined
    let pending = false
    const tap = fastPathOf(seam).collect(() => {
      const w = wake
      if (w !== undefined) {
        wake = undefined
        w()
      } else {
        pending = true
      }
    })!
    const parked = Effect.async<void>((resume) => {
      if (pending || tap.pending() > 0) {
        pending = false
        return resume(Effect.void)
      }
      wake = () => resume(Effect.void)
    })
    return Effect.forever(Effect.zipRight(parked, Effect.sync(() => tap.drain(onFrame))))
  })

/**
 * `trySend` from synchronous code (a collector's callback): what the fabric could not finish at
 * once (never, on a healthy lossy in-memory link) is forked on `runtime`.
 */
const sendNow = (runtime: Runtime.Runtime<never>) => (fast: SeamFastPath, to: PeerId, payload: Uint8Array): void => {
  const rest = fast.trySend(to, payload)
  if (rest !== undefined) Runtime.runFork(runtime)(Effect.ignore(rest))
}

// ------------------------------------------------------------------ null consensus baselines

/** Null consensus through the fast path: what a Raft node's transport gets from the fabric. */
const startNullConsensus = Effect.gen(function*() {
  const sendFrom = sendNow(yield* Effect.runtime<never>())
  const loom = yield* InMemoryLoom.make({ policy: POLICY })
  const scope = yield* Effect.scope
  const seams: Array<SeamShape> = []
  for (const [i, id] of VOTERS.entries()) seams.push(yield* weave(loom, id, i === 0, scope))
  const [leader, ...followers] = seams as [SeamShape, SeamShape, SeamShape]
  for (const f of followers) {
    const fast = fastPathOf(f)
    // Followers echo the 8-byte id back to the sender.
    yield* Effect.forkScoped(collect(f, (from, payload) => sendFrom(fast, from, payload.subarray(0, 8))))
  }
  const waiters = new Map<number, () => void>()
  yield* Effect.forkScoped(collect(leader, (_from, payload) => {
    const id = new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0)
    // The first ack of an id resolves it; the second (the other follower's) finds nobody.
    const w = waiters.get(id)
    if (w !== undefined) {
      waiters.delete(id)
      w()
    }
  }))
  const fast = fastPathOf(leader)
  const targets = followers.map((f) => f.selfId)
  let next = 1
  const propose: Call = () =>
    Effect.async<void>((resume) => {
      const id = next++
      const frame = new Uint8Array(8 + COMMAND.byteLength)
      new DataView(frame.buffer).setFloat64(0, id)
      frame.set(COMMAND, 8)
      waiters.set(id, () => resume(Effect.void))
      for (const to of targets) sendFrom(fast, to, frame)
    })
  return propose
})

/** The same protocol through the public Seam API: `broadcast` and the `incoming` Stream. */
const startNullConsensusSeamApi = Effect.gen(function*() {
  const loom = yield* InMemoryLoom.make({ policy: POLICY })
  const scope = yield* Effect.scope
  const seams: Array<SeamShape> = []
  for (const [i, id] of VOTERS.entries()) seams.push(yield* weave(loom, id, i === 0, scope))
  const [leader, ...followers] = seams as [SeamShape, SeamShape, SeamShape]
  for (const f of followers) {
    yield* f.incoming.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.forEach(chunk, (sw) => Effect.ignore(f.sendTo(sw.sender, sw.payload.subarray(0, 8))), { discard: true })
      ),
      Effect.forkScoped
    )
  }
  const waiters = new Map<number, () => void>()
  yield* leader.incoming.pipe(
    Stream.runForEachChunk((chunk) =>
      Effect.sync(() => {
        for (const sw of chunk) {
          const id = new DataView(sw.payload.buffer, sw.payload.byteOffset, 8).getFloat64(0)
          const w = waiters.get(id)
          if (w !== undefined) {
            waiters.delete(id)
            w()
          }
        }
      })
    ),
    Effect.forkScoped
  )
  let next = 1
  const propose: Call = () =>
    Effect.suspend(() => {
      const id = next++
      const frame = new Uint8Array(8 + COMMAND.byteLength)
      new DataView(frame.buffer).setFloat64(0, id)
      frame.set(COMMAND, 8)
      // Registered before the broadcast, so the (asynchronous) acks always find it.
      const done = Effect.async<void>((resume) => {
        waiters.set(id, () => resume(Effect.void))
      })
      return Effect.zipRight(Effect.ignore(leader.broadcast(frame)), done)
    })
  return propose
})

export const runNullBench = Effect.scoped(Effect.gen(function*() {
  const propose = yield* startNullConsensus
  yield* throughput(propose, 16, 300) // warm-up
  emit({ bench: "null.sequential", ...(yield* sequential(propose, SEQUENTIAL_N)) })
  for (const k of [1, 16, 256]) emit({ bench: `null.throughput.${k}`, ...(yield* commits(propose, k, THROUGHPUT_MS)) })
}))

export const runNullSeamApiBench = Effect.scoped(Effect.gen(function*() {
  const propose = yield* startNullConsensusSeamApi
  yield* throughput(propose, 16, 300) // warm-up
  emit({ bench: "null_seam.sequential", ...(yield* sequential(propose, SEQUENTIAL_N)) })
  for (const k of [1, 256]) {
    emit({ bench: `null_seam.throughput.${k}`, ...(yield* commits(propose, k, THROUGHPUT_MS)) })
  }
}))

// ------------------------------------------------------------------ Raft clusters

interface Member {
  readonly id: string
  readonly node: RaftNodeShape
  readonly scope: Scope.CloseableScope
}

/** The application state a benchmark node publishes as its snapshot (its content is irrelevant). */
const APP_STATE = new Uint8Array(8)

/**
 * What an application does to keep its log bounded: every `COMPACT_EVERY_MS` it publishes its
 * state through the index it has applied (here: everything committed), and the node compacts.
 * Without it every entry stays in six places (three logs, three storages) for the whole run, and
 * the benchmark measures a growing heap rather than the engine.
 */
const COMPACT_EVERY_MS = 100

const compactForever = (node: RaftNodeShape) =>
  Effect.forever(
    Effect.zipRight(
      Effect.sleep(COMPACT_EVERY_MS),
      Effect.flatMap(node.commitIndex.get, (throughIndex) =>
        throughIndex > 0 ? node.publishSnapshot({ throughIndex, state: APP_STATE }) : Effect.void)
    )
  )

const startMember = (loom: InMemoryLoomShape, cluster: ClusterConfig, id: string, host: boolean, compact = true) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const seam = yield* weave(loom, id, host, scope)
    const storage = yield* InMemoryRaftStorage.make()
    const node = yield* Raft.make({ cluster, transport: SeamRaftTransport.fromSeam(seam), storage }).pipe(
      Scope.extend(scope)
    )
    if (compact) yield* Effect.forkIn(compactForever(node), scope)
    return { id, node, scope } satisfies Member
  })

const startCluster = (cluster: ClusterConfig, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const loom = yield* InMemoryLoom.make({ policy: POLICY })
    const members: Array<Member> = []
    for (const [i, id] of ids.entries()) members.push(yield* startMember(loom, cluster, id, i === 0))
    return { loom, members }
  })

const closeAll = (members: ReadonlyArray<Member>) =>
  Effect.forEach(members, (m) => Scope.close(m.scope, Exit.void), { discard: true })

const awaitLeader = (members: ReadonlyArray<Member>) =>
  Effect.raceAll(members.map((m) => m.node.awaitLeadership.pipe(Effect.as(m))))

/** Whoever leads: `relocate` (run after a failed call) waits for the current leader. */
const follow = (members: ReadonlyArray<Member>, first: Member) => {
  const ref = { current: first }
  const relocate = Effect.map(awaitLeader(members), (m) => {
    ref.current = m
  })
  return { ref, relocate }
}

export const runRaftBench = Effect.scoped(Effect.gen(function*() {
  const t0 = now()
  const cluster = ClusterConfig.ofVoters(...VOTERS)
  const { members } = yield* startCluster(cluster, VOTERS)
  const leader = yield* awaitLeader(members)
  const firstLeaderMs = now() - t0
  const { ref, relocate } = follow(members, leader)
  const propose: Call = () => ref.current.node.propose(COMMAND)
  yield* throughput(propose, 16, 300, relocate) // warm-up

  emit({ bench: "raft.sequential", ...(yield* sequential(propose, SEQUENTIAL_N, relocate)) }, {
    vs: "null.sequential",
    metric: "p50_us"
  })
  for (const k of [1, 16, 256]) {
    emit({ bench: `raft.throughput.${k}`, ...(yield* commits(propose, k, THROUGHPUT_MS, relocate)) }, {
      vs: `null.throughput.${k}`,
      metric: "commits_per_s"
    })
  }
  emit({ bench: "raft.first_leader", ms: round(firstLeaderMs) })

  const current = yield* awaitLeader(members)
  const tCrash = now()
  yield* Scope.close(current.scope, Exit.void)
  const rest = members.filter((m) => m !== current)
  yield* awaitLeader(rest)
  emit({ bench: "raft.reelection_after_crash", ms: round(now() - tCrash) })
  yield* closeAll(rest)
}))

// ------------------------------------------------------------------ reads

/** `readIndex` on the leader, `readFence` on a follower and on a learner (3 voters + 1 learner). */
export const runReadBench = Effect.scoped(Effect.gen(function*() {
  const cluster = ClusterConfig.of(VOTERS, ["l1"])
  const { members } = yield* startCluster(cluster, [...VOTERS, "l1"])
  const voters = members.filter((m) => m.id !== "l1")
  const leader = yield* awaitLeader(voters)
  // The leader's no-op must commit before it serves reads; one proposal settles that.
  yield* leader.node.propose(COMMAND)
  const follower = voters.find((m) => m !== leader)!
  const learner = members.find((m) => m.id === "l1")!
  const { ref, relocate } = follow(voters, leader)
  const readIndex: Call = () => ref.current.node.readIndex
  const fence = (m: Member): Call => () => m.node.readFence
  yield* throughput(readIndex, 16, 300, relocate) // warm-up
  yield* throughput(fence(follower), 16, 300)

  for (const k of [1, 16, 256]) {
    emit({ bench: `raft.read_index.${k}`, ...(yield* reads(readIndex, k, THROUGHPUT_MS, relocate)) }, {
      vs: `null.throughput.${k}`,
      metric: "reads_per_s",
      baselineMetric: "commits_per_s"
    })
  }
  for (const [name, m] of [["follower", follower], ["learner", learner]] as const) {
    for (const k of [1, 256]) {
      emit({ bench: `raft.read_fence.${name}.${k}`, ...(yield* reads(fence(m), k, THROUGHPUT_MS)) }, {
        vs: `null.throughput.${k}`,
        metric: "reads_per_s",
        baselineMetric: "commits_per_s"
      })
    }
  }
  yield* closeAll(members)
}))

// ------------------------------------------------------------------ snapshot transfer

const mibPerSecond = (bytes: number, ms: number) => round(bytes / (1024 * 1024) / (ms / 1000))

/** 16 KiB frames between two seams of one loom: one in flight (acked), then pipelined. */
export const runFrameBench = Effect.scoped(Effect.gen(function*() {
  const sendFrom = sendNow(yield* Effect.runtime<never>())
  const loom = yield* InMemoryLoom.make({ policy: POLICY })
  const scope = yield* Effect.scope
  const a = yield* weave(loom, "a", true, scope)
  const b = yield* weave(loom, "b", false, scope)
  const frame = new Uint8Array(FRAME_BYTES).fill(3)
  const frames = SNAPSHOT_BYTES / FRAME_BYTES
  const fastA = fastPathOf(a)
  const fastB = fastPathOf(b)
  const ack = new Uint8Array(8)
  let received = 0
  let onAck: (() => void) | undefined
  let onAll: (() => void) | undefined
  let pipelined = false
  yield* Effect.forkScoped(collect(b, (from, payload) => {
    received += payload.byteLength
    if (!pipelined) {
      sendFrom(fastB, from, ack)
    } else if (received >= SNAPSHOT_BYTES) {
      onAll?.()
    }
  }))
  yield* Effect.forkScoped(collect(a, () => {
    const w = onAck
    onAck = undefined
    w?.()
  }))

  const t0 = now()
  for (let i = 0; i < frames; i++) {
    yield* Effect.async<void>((resume) => {
      onAck = () => resume(Effect.void)
      sendFrom(fastA, b.selfId, frame)
    })
  }
  const stopAndWaitMs = now() - t0
  emit({ bench: "loom.frames_16k", frames, ms: round(stopAndWaitMs), mib_per_s: mibPerSecond(SNAPSHOT_BYTES, stopAndWaitMs) })

  pipelined = true
  received = 0
  const t1 = now()
  yield* Effect.async<void>((resume) => {
    onAll = () => resume(Effect.void)
    for (let i = 0; i < frames; i++) sendFrom(fastA, b.selfId, frame)
  })
  const pipelinedMs = now() - t1
  emit({ bench: "loom.frames_16k_pipelined", frames, ms: round(pipelinedMs), mib_per_s: mibPerSecond(SNAPSHOT_BYTES, pipelinedMs) })
}))

/**
 * A 32 MiB state published on the leader of n1+n2, then n3 starts empty: its log is behind the
 * leader's compaction floor, so it can only catch up by InstallSnapshot (16 KiB chunks, one in
 * flight). Measured from n3's start to the `Install` on its committed stream; `transfer_ms`
 * starts when n3 first hears from the leader (just before the first chunk).
 */
export const runSnapshotBench = Effect.scoped(Effect.gen(function*() {
  const cluster = ClusterConfig.ofVoters(...VOTERS)
  const loom = yield* InMemoryLoom.make({ policy: POLICY })
  const first = [yield* startMember(loom, cluster, "n1", true, false), yield* startMember(loom, cluster, "n2", false, false)]
  const leader = yield* awaitLeader(first)
  let last = 0
  for (let i = 0; i < 16; i++) last = (yield* leader.node.propose(COMMAND)).index
  const state = new Uint8Array(SNAPSHOT_BYTES)
  for (let i = 0; i < state.length; i += 4096) state[i] = i & 0xff
  yield* leader.node.publishSnapshot({ throughIndex: last, state })
  yield* leader.node.compactionFloor.changes.pipe(Stream.takeUntil((f) => f >= last), Stream.runDrain)
  sampleRss()

  const t0 = now()
  const late = yield* startMember(loom, cluster, "n3", false, false)
  // n3 learns who leads from the leader's first frame to it, right before the transfer starts.
  let contactAt: number | undefined
  yield* late.node.leader.changes.pipe(
    Stream.filter(Option.isSome),
    Stream.runHead,
    Effect.zipRight(Effect.sync(() => void (contactAt = now()))),
    Effect.forkScoped
  )
  const installed = yield* late.node.committed.pipe(
    Stream.filter((c) => c._tag === "Install"),
    Stream.runHead
  )
  const ms = now() - t0
  sampleRss()
  if (Option.isNone(installed)) return yield* Effect.dieMessage("n3 never installed the snapshot")
  const transferMs = contactAt === undefined ? ms : t0 + ms - contactAt
  emit({
    bench: "raft.snapshot_transfer",
    mib: SNAPSHOT_BYTES / (1024 * 1024),
    ms: round(ms),
    transfer_ms: round(transferMs),
    mib_per_s: mibPerSecond(SNAPSHOT_BYTES, ms),
    transfer_mib_per_s: mibPerSecond(SNAPSHOT_BYTES, transferMs)
  }, { vs: "loom.frames_16k", metric: "transfer_mib_per_s", baselineMetric: "mib_per_s" })
  yield* closeAll([...first, late])
}))
