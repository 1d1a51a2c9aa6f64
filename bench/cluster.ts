/**
 * `npm run bench:cluster`: the server cluster as three OS processes (each `serverCluster` running
 * one voter on SQLite, default Raft timings), driven by `ClusterClient`s in this process.
 *
 * Baseline first, in the same run: raw `ws` round trips and one-way frames/s through a plain relay
 * process between two client processes (`processes/baselines.ts`). Then, on one fresh cluster:
 * - `cluster.client.latency`: one client attached to a follower's server proposes one command at a
 *   time: p50/p99 propose → acknowledged commit (client → entry server → leader → quorum → back),
 *   compared with the raw round trip;
 * - `cluster.clients.throughput`: `--clients` clients (spread over the three servers) propose one
 *   at a time each for `--seconds`: commits/s and p50 (compared with the raw round trip; the raw
 *   one-way frames/s is printed beside it);
 * - `cluster.client.failover`: a client proposing in a loop through a server that is not the
 *   leader's; that server is SIGKILLed: time from the kill to the next acknowledged proposal (the
 *   client notices the tear, joins the next endpoint, re-sends the same request id); then the
 *   server restarts on its data. `--trials` times. And `cluster.client.failover_leader`: the same
 *   with the client attached to the leader's server (a new election is part of it).
 *
 * The load average is printed beside every figure: on a shared machine the absolute numbers move,
 * the ratios to the same-run baseline less so.
 */
import { NodeSocket } from "@effect/platform-node"
import { Duration, Effect, Fiber } from "effect"
import { clusterClient } from "../src/cluster/ClusterClient.js"
import { ClusterEndpoints } from "../src/cluster/ClusterEndpoints.js"
import type { ClusterClientShape } from "../services/cluster/ClusterClient.js"
import type { Server } from "../test/cluster/serverProcesses.js"
import { agreedLeader, launch, START_MS, startThree, waitLine } from "../test/cluster/serverProcesses.js"
import { wsBaseline } from "./processes/baselines.js"
import { emit, loadAverage, now, percentile, round, runBench, summarize } from "./stats.js"

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
if (process.argv.includes("--help")) {
  console.log("npm run bench:cluster -- [--proposals 300] [--clients 30] [--seconds 5] [--trials 3] [--no-baseline]")
  process.exit(0)
}
const PROPOSALS = flag("proposals", 300)
const CLIENTS = flag("clients", 30)
const SECONDS = flag("seconds", 5)
const TRIALS = flag("trials", 3)
const enc = new TextEncoder()

/** A client on `servers`, starting with `first`. */
const clientOn = (servers: ReadonlyArray<Server>, first: Server, id: string) =>
  Effect.flatMap(
    ClusterEndpoints.make(servers.map((s) => ({ url: s.url, server: s.id })), { start: servers.indexOf(first) }),
    (endpoints) => clusterClient({ endpoints, id, admissionTimeout: Duration.minutes(2) })
  )

/** Time from SIGKILL of `client`'s entry server to its next acknowledged proposal; the server restarts after. */
const failoverTrial = (servers: ReadonlyArray<Server>, client: ClusterClientShape, entry: Server, tag: string) =>
  Effect.gen(function*() {
    let acked = 0
    let lastAck = 0
    const loop = yield* Effect.fork(Effect.forever(Effect.flatMap(
      client.propose(enc.encode(`${tag}-${acked}`), { timeout: Duration.minutes(1) }),
      () => Effect.sync(() => (acked++, lastAck = now()))
    )))
    while (acked < 20) yield* Effect.sleep(Duration.millis(5))
    entry.proc.kill("SIGKILL")
    const killedAt = now()
    const before = acked
    while (acked === before) yield* Effect.sleep(Duration.millis(1))
    const ms = lastAck - killedAt
    yield* Fiber.interrupt(loop)
    yield* Effect.promise(() => entry.exited)
    launch(entry, servers, { quiet: true })
    yield* Effect.promise(() => waitLine(entry, (t) => t.startsWith("listening "), START_MS, "listening after the restart"))
    yield* Effect.promise(() => agreedLeader(servers))
    return ms
  })

const main = Effect.gen(function*() {
  const baseline = !process.argv.includes("--no-baseline")
  if (baseline) {
    const ws = yield* wsBaseline
    emit({ bench: "cluster.ws.raw.rtt", ...ws.rtt })
    emit({ bench: "cluster.ws.raw.one_way", ...ws.oneWay })
  }
  const { servers, leader } = yield* startThree({ quiet: true })
  const follower = servers.find((s) => s.id !== leader)!

  // One client, one proposal at a time, through a follower's server.
  const one = yield* clientOn(servers, follower, "bench-latency")
  for (let i = 0; i < 30; i++) yield* one.propose(enc.encode(`warm-${i}`))
  const samples: Array<number> = []
  const t0 = now()
  for (let i = 0; i < PROPOSALS; i++) {
    const t = now()
    yield* one.propose(enc.encode(`lat-${i}`))
    samples.push(now() - t)
  }
  const elapsed = (now() - t0) / 1000
  emit(
    { bench: "cluster.client.latency", ...summarize(samples), commits_per_s: round(PROPOSALS / elapsed), entry: "follower", load1: loadAverage() },
    baseline ? { vs: "cluster.ws.raw.rtt", metric: "p50_us" } : undefined
  )
  yield* one.close

  // Many clients, one proposal at a time each.
  const clients = yield* Effect.all(
    Array.from({ length: CLIENTS }, (_, i) => clientOn(servers, servers[i % servers.length]!, `bench-t${i}`)),
    { concurrency: "unbounded" }
  )
  const latencies: Array<number> = []
  const until = now() + SECONDS * 1000
  const start = now()
  yield* Effect.all(
    clients.map((c, i) =>
      Effect.gen(function*() {
        for (let k = 0; now() < until; k++) {
          const t = now()
          yield* c.propose(enc.encode(`t${i}-${k}`))
          latencies.push(now() - t)
        }
      })
    ),
    { concurrency: "unbounded", discard: true }
  )
  const seconds = (now() - start) / 1000
  const sorted = [...latencies].sort((a, b) => a - b)
  emit(
    {
      bench: "cluster.clients.throughput",
      clients: CLIENTS,
      commits: latencies.length,
      commits_per_s: round(latencies.length / seconds),
      p50_us: round(percentile(sorted, 50) * 1000),
      p99_us: round(percentile(sorted, 99) * 1000),
      load1: loadAverage()
    },
    // commits/s over raw frames/s is ~0.001 (three-digit rounding hides it): compare latencies instead.
    baseline ? { vs: "cluster.ws.raw.rtt", metric: "p50_us" } : undefined
  )
  yield* Effect.forEach(clients, (c) => c.close, { discard: true })

  // Failover: the client's entry server dies.
  const failovers: Array<number> = []
  for (let t = 0; t < TRIALS; t++) {
    const current = yield* Effect.promise(() => agreedLeader(servers))
    const entry = servers.find((s) => s.id !== current)!
    const c = yield* clientOn(servers, entry, `bench-f${t}`)
    failovers.push(yield* failoverTrial(servers, c, entry, `f${t}`))
    yield* c.close
  }
  const fs = [...failovers].sort((a, b) => a - b)
  emit({ bench: "cluster.client.failover", trials: fs.length, p50_ms: round(percentile(fs, 50)), max_ms: round(fs.at(-1)!), all_ms: fs.map((x) => round(x)), load1: loadAverage() })
  const leaderFailovers: Array<number> = []
  for (let t = 0; t < TRIALS; t++) {
    const current = yield* Effect.promise(() => agreedLeader(servers))
    const entry = servers.find((s) => s.id === current)!
    const c = yield* clientOn(servers, entry, `bench-l${t}`)
    leaderFailovers.push(yield* failoverTrial(servers, c, entry, `l${t}`))
    yield* c.close
  }
  const ls = [...leaderFailovers].sort((a, b) => a - b)
  emit({
    bench: "cluster.client.failover_leader",
    trials: ls.length,
    p50_ms: round(percentile(ls, 50)),
    max_ms: round(ls.at(-1)!),
    all_ms: ls.map((x) => round(x)),
    load1: loadAverage()
  })
}).pipe(Effect.scoped, Effect.provide(NodeSocket.layerWebSocketConstructor))

runBench(main)
