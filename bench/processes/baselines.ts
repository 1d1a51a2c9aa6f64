/**
 * Same-run baselines between the same kind of processes as the Raft phases:
 * - raw `ws` through a plain relay process (`relayChild.ts`) between two client processes
 *   (`wsPeerChild.ts`): round trip p50/p99 and one-way frames/s with 512 frames in flight; best of
 *   two rounds, so a burst of load on a shared machine does not pass for the fabric's speed;
 * - one SQLite WAL commit with `synchronous = FULL` on this disk (`walChild.ts`).
 */
import { Duration, Effect } from "effect"
import { loadAverage } from "../stats.js"
import type { ChildError } from "./children.js"
import { spawnChild } from "./children.js"

export interface Latency {
  readonly n: number
  readonly p50_us: number
  readonly p99_us: number
  readonly max_us: number
}

const RTT_N = 5_000
const ONE_WAY_FRAMES = 200_000
const WINDOW = 512
const ROUNDS = 2
const WAL_COMMITS = 1_000

export interface WsBaseline {
  readonly rtt: Latency & { readonly load1: number }
  readonly oneWay: { readonly frames: number; readonly frames_per_s: number; readonly load1: number }
}

export const wsBaseline: Effect.Effect<WsBaseline, ChildError> = Effect.scoped(Effect.gen(function*() {
  const relay = yield* spawnChild("relay", "./relayChild.ts", null)
  const url = (relay.info as { url: string }).url
  yield* spawnChild("ws-b", "./wsPeerChild.ts", { url, role: "b" })
  const a = yield* spawnChild("ws-a", "./wsPeerChild.ts", { url, role: "a" })
  const long = Duration.minutes(5)
  yield* a.request("rtt", { n: 200 }, long) // warm-up (and b surely joined)
  yield* a.request("oneWay", { frames: 20_000, window: WINDOW }, long)
  let rtt: Latency | undefined
  let rttLoad = 0
  let oneWay: { frames: number; frames_per_s: number } | undefined
  let oneWayLoad = 0
  for (let round = 0; round < ROUNDS; round++) {
    const r = yield* a.request<Latency>("rtt", { n: RTT_N }, long)
    if (rtt === undefined || r.p50_us < rtt.p50_us) (rtt = r, rttLoad = loadAverage())
    const o = yield* a.request<{ frames: number; frames_per_s: number }>("oneWay", { frames: ONE_WAY_FRAMES, window: WINDOW }, long)
    if (oneWay === undefined || o.frames_per_s > oneWay.frames_per_s) (oneWay = o, oneWayLoad = loadAverage())
  }
  return { rtt: { ...rtt!, load1: rttLoad }, oneWay: { ...oneWay!, load1: oneWayLoad } }
}))

export const walBaseline = (dir: string): Effect.Effect<Latency & { readonly load1: number }, ChildError> =>
  Effect.scoped(Effect.gen(function*() {
    const wal = yield* spawnChild("wal", "./walChild.ts", { dir })
    const r = yield* wal.request<Latency>("commits", { n: WAL_COMMITS }, Duration.minutes(5))
    return { ...r, load1: loadAverage() }
  }))
