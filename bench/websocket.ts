/**
 * `npm run bench:websocket`: the WebSocket fabric on loopback, one JSON line per figure.
 *
 * - `ws.raw.*` / `ws.host.*` / `ws.kuilt.*`: frames through a plain `ws` relay server (raw `ws`
 *   clients), through kuilt's host with raw `ws` clients speaking its protocol, and through kuilt's
 *   host with kuilt's clients (the public Seam API) — see `websocketRelay.ts`; 1 → 1 and 1 → 99 by
 *   broadcast; ratios are against `ws.raw.*`.
 * - `ws.raft.*`: a 3-node Raft cluster whose nodes talk through the host (one Node client seam per
 *   node, same process): commits/s with 64 concurrent proposers on the leader, and sequential
 *   propose → commit latency; baseline `mem.raft.*` is the same cluster over `InMemoryLoom`.
 *
 * - `ws.flood.*`: a host in its own process under a flood of 100 000 frames from one client: its
 *   event-loop delay with default limits (bar: p99 < 50 ms), against the same flood with the limits
 *   off and against an idle host — see `websocketFlood.ts`.
 *
 * The last line (`summary.ratios`) gathers the ratios.
 */
import { NodeSocket } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import * as WebSocketHost from "../layers/seam/websocket/node/WebSocketHost.js"
import { ClusterConfig, InMemoryLoom, InMemoryRaftStorage, RaftNode, type RaftNodeShape, SeamRaftTransport } from "../src/index.js"
import type { SeamShape } from "../services/seam/Seam.js"
import { WebSocketLoom } from "../layers/seam/websocket/client/WebSocketLoom.js"
import { emit, now, runBench, summarize } from "./stats.js"
import { floodFigures } from "./websocketFlood.js"
import { hostRelay, kuiltRelay, latency, rawRelay, throughput } from "./websocketRelay.js"

const FRAMES = 40_000
const BROADCAST_FRAMES = 1_000
const LATENCY_N = 2_000
const FANOUT = 99
const PROPOSERS = 64
const THROUGHPUT_MS = 3_000
const SEQUENTIAL_N = 1_000
const COMMAND = new Uint8Array(16)
const ROUNDS = 2

const relayOf = (name: "raw" | "host" | "kuilt", receivers: number) =>
  name === "raw" ? rawRelay(receivers) : name === "host" ? hostRelay(receivers) : kuiltRelay(receivers)

type RelayName = "raw" | "host" | "kuilt"
type Figures = Record<string, Record<string, number>>

/** One round of the four relay figures of `name` (not printed). */
const relayRound = (name: RelayName) =>
  Effect.gen(function*() {
    const out: Figures = {}
    yield* Effect.scoped(Effect.gen(function*() {
      const one = yield* relayOf(name, 1)
      yield* throughput(one, 5_000, false, 1) // warm-up
      out["one_to_one.throughput"] = yield* throughput(one, FRAMES, false, 1)
      out["one_to_one.latency"] = yield* latency(one, LATENCY_N, false, 1)
    }))
    yield* Effect.scoped(Effect.gen(function*() {
      const many = yield* relayOf(name, FANOUT)
      yield* throughput(many, 100, true, FANOUT) // warm-up
      out[`broadcast_${FANOUT + 1}.throughput`] = yield* throughput(many, BROADCAST_FRAMES, true, FANOUT)
      out[`broadcast_${FANOUT + 1}.latency`] = yield* latency(many, 300, true, FANOUT)
    }))
    return out
  })

/** The better of two values for a figure: higher throughput, lower latency. */
const better = (key: string, a: Record<string, number>, b: Record<string, number>) =>
  key.endsWith("throughput") ? (a["frames_per_s"]! >= b["frames_per_s"]! ? a : b) : (a["p50_us"]! <= b["p50_us"]! ? a : b)

/**
 * The relay figures, best of `ROUNDS` rounds run in alternating order (raw, host, kuilt, then
 * kuilt, host, raw, …), so neither JIT warm-up nor a burst of load on a shared machine favours one.
 */
const relayFigures = Effect.gen(function*() {
  const names: ReadonlyArray<RelayName> = ["raw", "host", "kuilt"]
  const best = new Map<RelayName, Figures>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const figures = yield* relayRound(name)
      const prev = best.get(name)
      if (prev === undefined) best.set(name, figures)
      else for (const key of Object.keys(figures)) prev[key] = better(key, prev[key]!, figures[key]!)
    }
  }
  for (const name of names) {
    for (const [key, figures] of Object.entries(best.get(name)!)) {
      const metric = key.endsWith("throughput") ? "frames_per_s" : "p50_us"
      emit({ bench: `ws.${name}.${key}`, ...figures }, name === "raw" ? undefined : { vs: `ws.raw.${key}`, metric })
    }
  }
})

const ids = ["n1", "n2", "n3"] as const

/** Three Raft nodes, each on its own seam from `seamOf`, each in its own scope. */
const raftCluster = (seamOf: (id: string) => Effect.Effect<SeamShape, never, Scope.Scope>) =>
  Effect.gen(function*() {
    const cluster = ClusterConfig.ofVoters(...ids)
    const nodes: Array<RaftNodeShape> = []
    for (const id of ids) {
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const seam = yield* seamOf(id).pipe(Scope.extend(scope))
      const storage = yield* InMemoryRaftStorage.make()
      nodes.push(yield* RaftNode.make({ cluster, transport: SeamRaftTransport.fromSeam(seam), storage }).pipe(Scope.extend(scope), Effect.orDie))
    }
    const leader = yield* Effect.raceAll(nodes.map((n) => n.awaitLeadership.pipe(Effect.as(n))))
    return { leader, nodes }
  })

const raftFigures = (name: "ws" | "mem", seamOf: (id: string) => Effect.Effect<SeamShape, never, Scope.Scope>) =>
  Effect.scoped(Effect.gen(function*() {
    const { leader } = yield* raftCluster(seamOf)
    let errors = 0
    const propose = leader.propose(COMMAND).pipe(Effect.catchAll(() => Effect.sync(() => void errors++)))
    // Warm-up, then sequential latency, then throughput with PROPOSERS concurrent proposers.
    for (let i = 0; i < 300; i++) yield* propose
    const samples: Array<number> = []
    for (let i = 0; i < SEQUENTIAL_N; i++) {
      const t0 = now()
      yield* propose
      samples.push(now() - t0)
    }
    emit({ bench: `${name}.raft.sequential`, ...summarize(samples) },
      name === "ws" ? { vs: "mem.raft.sequential", metric: "p50_us" } : undefined)
    let done = 0
    const end = now() + THROUGHPUT_MS
    const t0 = now()
    yield* Effect.forEach(Array.from({ length: PROPOSERS }), () =>
      Effect.whileLoop({ while: () => now() < end, body: () => propose, step: () => void done++ }), {
      concurrency: "unbounded",
      discard: true
    })
    emit({
      bench: `${name}.raft.throughput.${PROPOSERS}`,
      commits_per_s: Math.round(done / ((now() - t0) / 1000)),
      ...(errors > 0 ? { errors } : {})
    }, name === "ws" ? { vs: `mem.raft.throughput.${PROPOSERS}`, metric: "commits_per_s" } : undefined)
  }))

const main = Effect.gen(function*() {
  // First: the flood runs in child processes, and the bar it checks should fail the run early.
  yield* floodFigures
  yield* relayFigures
  yield* Effect.scoped(Effect.gen(function*() {
    const loom = yield* InMemoryLoom.make()
    let first = true
    yield* raftFigures("mem", (id) => {
      const seam = first ? loom.host({ sessionName: "bench", peerKey: id }) : loom.join({ sessionName: "bench", peerKey: id })
      first = false
      return Effect.orDie(seam)
    })
  }))
  yield* Effect.scoped(Effect.gen(function*() {
    // Default limits but an explicit (open) identity: Raft through the host as deployed.
    const host = yield* WebSocketHost.make({ identity: WebSocketHost.HostIdentity.open() }).pipe(Effect.orDie)
    yield* raftFigures("ws", (id) =>
      WebSocketLoom.join({ url: host.url, room: "raft", peerId: id, displayName: id }).pipe(
        Effect.map((r) => r.seam),
        Effect.provide(NodeSocket.layerWebSocketConstructor),
        Effect.orDie
      ))
  }))
})

runBench(main)
