/**
 * Re-election after a crash: a fresh 3-voter cluster per trial (one host process for all trials,
 * a room each), idle, default timeouts. Once a proposal has committed and a random 100–300 ms
 * have passed (so the kill lands anywhere in the heartbeat period), the leader's process gets
 * SIGKILL; both survivors wait to become leader and then commit one proposal. Measured from the
 * kill to the new leader's election and to its commit (wall clock, the same on every process).
 *
 * A fresh cluster per trial rather than restarting the killed voter: a process that comes back
 * under the same peer id within the host's reconnect window is refused (`PeerIdInUse`) until the
 * window ends, and an in-memory voter cannot come back on its data at all.
 */
import { Duration, Effect, Fiber } from "effect"
import { mkdtempSync } from "node:fs"
import { join } from "node:path"
import { loadAverage, percentile, round } from "../stats.js"
import type { ChildError } from "./children.js"
import { spawnChild } from "./children.js"
import { startCluster } from "./cluster.js"
import type { LeaderCommit, StorageKind } from "./nodeChild.js"
import { wallMs } from "./protocol.js"

export interface Trials {
  readonly bench: string
  readonly storage: StorageKind
  readonly trials: number
  readonly commit_p50_ms: number
  readonly commit_p99_ms: number
  readonly elected_p50_ms: number
  readonly elected_p99_ms: number
  readonly commit_ms: ReadonlyArray<number>
  readonly load1: number
}

const trial = (storage: StorageKind, runDir: string, host: Parameters<typeof startCluster>[0]["host"], i: number) =>
  Effect.scoped(Effect.gen(function*() {
    const cluster = yield* startCluster({
      storage,
      dataDir: mkdtempSync(join(runDir, `trial-${storage}-`)),
      room: `trial-${i}`,
      compactEveryMs: 0,
      ...(host === undefined ? {} : { host })
    })
    const leader = yield* cluster.awaitLeader()
    yield* cluster.nodes.get(leader)!.request("drive", { inflight: 1, durationMs: 100 })
    yield* Effect.sleep(Duration.millis(100 + Math.floor(Math.random() * 200)))
    const survivors = cluster.voters.filter((id) => id !== leader).map((id) => cluster.nodes.get(id)!)
    const waiting = yield* Effect.forEach(survivors, (c) =>
      Effect.fork(c.request<LeaderCommit>("awaitLeaderCommit", null, Duration.seconds(30))))
    // A later answer on the same channel: both survivors are waiting before the kill.
    yield* Effect.forEach(survivors, (c) => c.request("status"), { discard: true })
    const killedAt = wallMs()
    cluster.nodes.get(leader)!.kill("SIGKILL")
    const won = yield* Effect.raceAll(waiting.map(Fiber.join))
    yield* Effect.forEach(waiting, Fiber.interrupt, { discard: true })
    yield* Effect.forEach(survivors, (c) => Effect.ignore(c.request("cancelAwait")), { discard: true })
    return { commit: won.committedAt - killedAt, elected: won.leaderAt - killedAt }
  }))

export const reelectionTrials = (storage: StorageKind, n: number, runDir: string): Effect.Effect<Trials, ChildError> =>
  Effect.scoped(Effect.gen(function*() {
    const host = yield* spawnChild("host", "./hostChild.ts", null)
    const commits: Array<number> = []
    const elections: Array<number> = []
    for (let i = 0; i < n; i++) {
      const t = yield* trial(storage, runDir, host, i)
      commits.push(round(t.commit))
      elections.push(round(t.elected))
    }
    const sortedCommits = [...commits].sort((a, b) => a - b)
    const sortedElections = [...elections].sort((a, b) => a - b)
    return {
      bench: `proc.raft.${storage}.reelection_after_sigkill`,
      storage,
      trials: n,
      commit_p50_ms: percentile(sortedCommits, 50),
      commit_p99_ms: percentile(sortedCommits, 99),
      elected_p50_ms: percentile(sortedElections, 50),
      elected_p99_ms: percentile(sortedElections, 99),
      commit_ms: commits,
      load1: loadAverage()
    }
  }))
