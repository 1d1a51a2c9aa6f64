/**
 * The load a benchmark node process puts on its own `RaftNode`: `inflight` fibers, each proposing
 * a fresh 16-byte command as soon as its previous one finished, for `durationMs`. Proposals on a
 * follower are forwarded by the node (the public `propose` works from any role). Every outcome is
 * counted by kind; propose → commit latencies go into a histogram (µs).
 */
import { Effect } from "effect"
import { createHistogram } from "node:perf_hooks"
import type { RaftNodeShape } from "../../src/index.js"
import { round } from "../stats.js"
import { wallMs } from "./protocol.js"

export const COMMAND_BYTES = 16

export interface DriveOptions {
  readonly inflight: number
  readonly durationMs: number
}

export interface DriveFigures {
  readonly inflight: number
  /** From the first proposal to the last answer (or the end of the grace period). */
  readonly seconds: number
  readonly committed: number
  /** Commits answered within the phase's duration, per second of it. */
  readonly commits_per_s: number
  readonly p50_us: number
  readonly p99_us: number
  readonly max_us: number
  readonly leadership_lost: number
  readonly not_leader: number
  readonly payload_too_large: number
  /** Proposals still unanswered when the grace period after the phase ended. */
  readonly unanswered: number
  /** Wall-clock ms of the first `LeadershipLost` (to line it up with stalls and role changes). */
  readonly first_leadership_lost_at: number | null
  /** Commits in each second of the phase. */
  readonly timeline: ReadonlyArray<number>
}

/** How long proposals in flight at the end may take before they are abandoned (counted). */
const GRACE_MS = 10_000

export const drive = (node: RaftNodeShape, options: DriveOptions): Effect.Effect<DriveFigures> =>
  Effect.gen(function*() {
    const latency = createHistogram()
    const timeline: Array<number> = []
    const failures = { LeadershipLost: 0, NotLeader: 0, PayloadTooLarge: 0 }
    let committed = 0
    let inWindow = 0
    let started = 0
    let firstLost: number | null = null
    let serial = 0
    const tag = process.pid >>> 0
    const t0 = performance.now()
    const end = t0 + options.durationMs
    let closed = false

    const committedAt = (sent: number) => {
      const t = performance.now()
      latency.record(Math.max(1, Math.round((t - sent) * 1000)))
      committed++
      if (t <= end) inWindow++
      const second = Math.floor((t - t0) / 1000)
      while (timeline.length <= second) timeline.push(0)
      timeline[second]!++
    }
    const failed = (tag: "LeadershipLost" | "NotLeader" | "PayloadTooLarge") => {
      failures[tag]++
      if (tag === "LeadershipLost" && firstLost === null) firstLost = round(wallMs())
      if (tag === "NotLeader") closed = true // a closed node: stop
    }
    // One generator per proposer and no closure per proposal: the harness's own cost stays small
    // beside the node's (it shares the process, as an application would).
    const proposer = Effect.gen(function*() {
      while (!closed && performance.now() < end) {
        const command = new Uint8Array(COMMAND_BYTES)
        const view = new DataView(command.buffer)
        view.setUint32(0, tag)
        view.setFloat64(4, serial++)
        started++
        const sent = performance.now()
        const outcome = yield* Effect.either(node.propose(command))
        if (outcome._tag === "Right") committedAt(sent)
        else failed(outcome.left._tag)
      }
    })
    yield* Effect.forEach(Array.from({ length: options.inflight }), () => proposer, { concurrency: "unbounded", discard: true }).pipe(
      Effect.timeout(options.durationMs + GRACE_MS),
      Effect.ignore
    )
    const seconds = (performance.now() - t0) / 1000
    const answered = committed + failures.LeadershipLost + failures.NotLeader + failures.PayloadTooLarge
    const us = (p: number) => (latency.count === 0 ? null : latency.percentile(p))
    return {
      inflight: options.inflight,
      seconds: round(seconds, 2),
      committed,
      commits_per_s: Math.round(inWindow / (options.durationMs / 1000)),
      p50_us: us(50) ?? NaN,
      p99_us: us(99) ?? NaN,
      max_us: latency.count === 0 ? NaN : latency.max,
      leadership_lost: failures.LeadershipLost,
      not_leader: failures.NotLeader,
      payload_too_large: failures.PayloadTooLarge,
      unanswered: started - answered,
      first_leadership_lost_at: firstLost,
      timeline
    }
  })
