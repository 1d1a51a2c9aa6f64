/**
 * The flood figures of `npm run bench:websocket`: a host in its own process (the test suite's
 * `procs/host.ts`) receives 100 000 relay frames of 64 garbage bytes from one client (`procs/flooder.ts`,
 * another process) as fast as `ws` can write them, addressed to a member of the same room. The host
 * measures its own event-loop delay with `perf_hooks.monitorEventLoopDelay` (10 ms resolution).
 *
 * - `ws.flood.idle`: the host with no traffic, over the same time (the noise floor of the machine).
 * - `ws.flood.unlimited`: rate limits and the per-turn quantum switched off — the host as it was
 *   before them (the baseline of the ratio).
 * - `ws.flood.default`: default limits. The bar: p99 under 50 ms (`pass`); the bench fails when
 *   the median of `ROUNDS` rounds is over it.
 */
import { Data, Effect } from "effect"
import { ask, type Child, startChild, stopAll } from "../test/layers/seam/websocket/childProcess.js"
import { emit } from "./stats.js"

const FRAMES = 100_000
const ROUNDS = 3
const BAR_MS = 50

interface Stats {
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number }
  readonly cpuMs: number
  readonly counters: { readonly rateLimited: number; readonly deferredFrames: number; readonly relayed: number }
}

export class FloodBarMissed extends Data.TaggedError("FloodBarMissed")<{ readonly p99Ms: number }> {
  override get message() {
    return `flood: the host's event-loop delay p99 was ${this.p99Ms} ms (median of ${ROUNDS} rounds); the bar is ${BAR_MS} ms`
  }
}

const UNLIMITED = {
  maxFramesPerTurn: 1e9,
  rateLimit: { messagesPerSecond: 1e9, bytesPerSecond: 1e12 },
  maxOutboundBytesPerConnection: 1024 * 1024 * 1024
}

/** One round: a fresh host and flooder; the host's figures over the flood (or `idleMs` of quiet). */
const round = (options: unknown, idleMs?: number) =>
  Effect.promise(async () => {
    const children: Array<Child> = []
    try {
      const host = startChild("host", "host", { port: 0, options })
      children.push(host)
      const port = Number((await host.waitForLine((t) => t.startsWith("listening "), 120_000, "the host")).text.split(" ")[1])
      const flooder = startChild("flooder", "flooder", { url: `ws://127.0.0.1:${port}/kuilt`, room: "flood", frames: FRAMES, payloadBytes: 64 })
      children.push(flooder)
      await flooder.waitForLine((t) => t === "ready", 120_000, "the flooder")
      await ask(host, "reset", "reset")
      const t0 = Date.now()
      if (idleMs === undefined) {
        flooder.send("go")
        await flooder.waitForLine((t) => t === `sink ${FRAMES}`, 300_000, "every frame at the sink")
      } else {
        await new Promise((r) => setTimeout(r, idleMs))
      }
      const ms = Date.now() - t0
      const stats = JSON.parse(await ask(host, "stats", "stats")) as Stats
      return { ms, stats }
    } finally {
      await stopAll(children)
    }
  })

const figures = (r: { ms: number; stats: Stats }) => ({
  p50_ms: r.stats.eventLoopDelayMs.p50,
  p99_ms: r.stats.eventLoopDelayMs.p99,
  max_ms: r.stats.eventLoopDelayMs.max,
  duration_ms: r.ms,
  host_cpu_ms: r.stats.cpuMs,
  rate_limit_pauses: r.stats.counters.rateLimited,
  deferred_frames: r.stats.counters.deferredFrames
})

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Prints the flood figures; fails with `FloodBarMissed` when the default host misses the bar. */
export const floodFigures = Effect.gen(function*() {
  const unlimited = yield* round(UNLIMITED)
  emit({ bench: "ws.flood.unlimited", frames: FRAMES, ...figures(unlimited) })
  const rounds = []
  for (let i = 0; i < ROUNDS; i++) rounds.push(yield* round({}))
  const p99s = rounds.map((r) => r.stats.eventLoopDelayMs.p99)
  const mid = rounds.find((r) => r.stats.eventLoopDelayMs.p99 === median(p99s))!
  const idle = yield* round({}, mid.ms)
  emit({ bench: "ws.flood.idle", ...figures(idle) })
  const p99 = median(p99s)
  emit(
    { bench: "ws.flood.default", frames: FRAMES, ...figures(mid), p99_ms_rounds: p99s, bar_ms: BAR_MS, pass: p99 < BAR_MS },
    { vs: "ws.flood.unlimited", metric: "p99_ms" }
  )
  if (!(p99 < BAR_MS)) return yield* new FloodBarMissed({ p99Ms: p99 })
})
