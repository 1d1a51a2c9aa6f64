/**
 * One measured phase on a fresh cluster of processes: elect, warm up, open a measurement window in
 * every process, drive `inflight` proposals for the phase's duration inside the leader's or a
 * follower's process, then collect what every process saw (throughput and latency from the
 * proposer; role transitions, event-loop lag, GC, memory and CPU from every voter and the host).
 */
import { Duration, Effect } from "effect"
import { mkdtempSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { loadAverage } from "../stats.js"
import type { ChildError } from "./children.js"
import { startCluster } from "./cluster.js"
import type { DriveFigures } from "./driver.js"
import type { ProposerKind } from "./flags.js"
import type { HostReport } from "./hostChild.js"
import type { NodeReport, StorageKind } from "./nodeChild.js"
import { TICK_MS } from "./probes.js"
import { summarizeProfile } from "./profile.js"
import type { ProfileSummary } from "./profile.js"
import { wallMs } from "./protocol.js"

export interface PhaseSpec {
  readonly storage: StorageKind
  readonly proposer: ProposerKind
  readonly inflight: number
  readonly durationS: number
  /** 1-based; names the phase `….rN` when the run has several rounds. */
  readonly round: number
  readonly rounds: number
  /** Write `--cpu-prof` profiles of every process of this phase into this directory. */
  readonly profileDir: string | undefined
  readonly compactEveryMs: number
  /** The run's temp directory (SQLite files go in a new directory under it). */
  readonly runDir: string
}

export interface VoterFigures {
  readonly lag_p99_ms: number
  readonly lag_max_ms: number
  readonly stalls_over_100ms: number
  /** …of which the main thread was on a CPU at least half the time (its own work, not contention). */
  readonly stalls_over_100ms_on_cpu: number
  /** The longest stalls: ms after the window opened, length, main thread on a CPU / waiting for one. */
  readonly longest_stalls: ReadonlyArray<
    { readonly t_ms: number; readonly ms: number; readonly cpu_ms: number; readonly wait_ms: number; readonly commit_index: number }
  >
  readonly gc_max_ms: number
  readonly gc_major_max_ms: number
  readonly rss_peak_mib: number
  readonly cpu_pct: number
  /** Main thread on a CPU / runnable but waiting for one, in % of the window (machine contention). */
  readonly main_cpu_pct: number
  readonly main_runqueue_wait_pct: number
  /** Role transitions: ms after the window opened, from → to, the term, CheckQuorum step-down. */
  readonly transitions: ReadonlyArray<string>
  readonly dropped_frames: number
}

export interface PhaseResult {
  readonly name: string
  readonly spec: PhaseSpec
  /** The JSON line (without comparison fields). */
  readonly record: Record<string, unknown> & { readonly bench: string }
  /** Profile summaries by node id and role, when profiled. */
  readonly profiles: ReadonlyArray<{ readonly node: string; readonly role: string; readonly file: string; readonly summary: ProfileSummary }>
}

export const phaseName = (s: Pick<PhaseSpec, "storage" | "proposer" | "inflight" | "round" | "rounds">) =>
  `proc.raft.${s.storage}.${s.proposer}.${s.inflight}${s.rounds > 1 ? `.r${s.round}` : ""}`

const WARMUP_MS = 500

export const runPhase = (spec: PhaseSpec): Effect.Effect<PhaseResult, ChildError> =>
  Effect.gen(function*() {
    const name = phaseName(spec)
    const dataDir = mkdtempSync(join(spec.runDir, `${spec.storage}-`))
    // One directory per process: its worker threads (tsx's loader hooks, the SQLite worker) write
    // profiles too, and the main thread's is the one with thread id 0 in its name.
    const profileDirOf = (who: string) => join(spec.profileDir!, `${name}.${who}`)
    const load1Start = loadAverage()
    const measured = yield* Effect.scoped(Effect.gen(function*() {
      const cluster = yield* startCluster({
        storage: spec.storage,
        dataDir,
        room: "bench",
        compactEveryMs: spec.compactEveryMs,
        ...(spec.profileDir === undefined
          ? {}
          : { nodeFlags: (who: string) => ["--cpu-prof", `--cpu-prof-dir=${profileDirOf(who)}`] })
      })
      const pick = (leader: string) =>
        spec.proposer === "leader" ? leader : cluster.voters.find((id) => id !== leader)!
      const firstLeader = yield* cluster.awaitLeader()
      yield* cluster.nodes.get(pick(firstLeader))!.request("drive", { inflight: Math.min(spec.inflight, 16), durationMs: WARMUP_MS })
      const leader = yield* cluster.awaitLeader()
      const proposer = pick(leader)
      const everyone = [...cluster.nodes.values()]
      yield* Effect.forEach([cluster.host, ...everyone], (c) => c.request("phaseStart"), { concurrency: "unbounded", discard: true })
      const startWall = wallMs()
      const drive = yield* cluster.nodes.get(proposer)!.request<DriveFigures>(
        "drive",
        { inflight: spec.inflight, durationMs: spec.durationS * 1000 },
        Duration.seconds(spec.durationS + 120)
      )
      const reports = yield* Effect.forEach(everyone, (c) => c.request<NodeReport>("phaseReport"), { concurrency: "unbounded" })
      const host = yield* cluster.host.request<HostReport>("phaseReport")
      return { leader, proposer, startWall, drive, reports, host }
    }))
    const load1 = loadAverage()
    const { drive, host, reports, startWall } = measured
    const rel = (at: number) => Math.round(at - startWall)
    const voters: Record<string, VoterFigures> = {}
    for (const r of reports) {
      voters[r.id] = {
        lag_p99_ms: r.probes.lag_p99_ms,
        lag_max_ms: r.probes.lag_max_ms,
        stalls_over_100ms: r.probes.stalls_over_100ms,
        stalls_over_100ms_on_cpu: r.probes.stalls_over_100ms_on_cpu,
        longest_stalls: r.probes.longest_stalls.slice(0, 5).map((s) => ({ t_ms: rel(s.at), ms: s.ms, cpu_ms: s.cpu_ms, wait_ms: s.wait_ms, commit_index: s.mark })),
        gc_max_ms: r.probes.gc_max_ms,
        gc_major_max_ms: r.probes.gc_major_max_ms,
        rss_peak_mib: r.probes.rss_peak_mib,
        cpu_pct: r.probes.cpu_pct,
        main_cpu_pct: r.probes.main_cpu_pct,
        main_runqueue_wait_pct: r.probes.main_runqueue_wait_pct,
        transitions: r.transitions.map((t) =>
          `${rel(t.at)}ms ${t.from}→${t.to} t${t.term}${t.lostQuorum ? " (CheckQuorum)" : ""}`
        ),
        dropped_frames: r.dropped
      }
    }
    const all = reports.flatMap((r) => r.transitions)
    const max = (f: (v: VoterFigures) => number) => Math.max(...Object.values(voters).map(f))
    const record = {
      bench: name,
      storage: spec.storage,
      proposer: spec.proposer,
      inflight: spec.inflight,
      seconds: spec.durationS,
      commits_per_s: drive.commits_per_s,
      p50_us: drive.p50_us,
      p99_us: drive.p99_us,
      max_us: drive.max_us,
      committed: drive.committed,
      leadership_lost: drive.leadership_lost,
      not_leader: drive.not_leader,
      unanswered: drive.unanswered,
      leader_changes: all.filter((t) => t.to === "Leader").length,
      role_transitions: all.length,
      check_quorum_step_downs: all.filter((t) => t.lostQuorum).length,
      terms: Math.max(...reports.map((r) => r.terms)),
      lag_p99_ms: max((v) => v.lag_p99_ms),
      lag_max_ms: max((v) => v.lag_max_ms),
      gc_max_ms: max((v) => v.gc_max_ms),
      rss_peak_mib: max((v) => v.rss_peak_mib),
      runqueue_wait_pct: max((v) => v.main_runqueue_wait_pct),
      stalls_over_100ms: Object.values(voters).reduce((n, v) => n + v.stalls_over_100ms, 0),
      stalls_over_100ms_on_cpu: Object.values(voters).reduce((n, v) => n + v.stalls_over_100ms_on_cpu, 0),
      leader: measured.leader,
      proposer_node: measured.proposer,
      first_leadership_lost_ms: drive.first_leadership_lost_at === null ? null : rel(drive.first_leadership_lost_at),
      timeline: drive.timeline,
      voters,
      host: {
        lag_p99_ms: host.probes.lag_p99_ms,
        lag_max_ms: host.probes.lag_max_ms,
        cpu_pct: host.probes.cpu_pct,
        main_runqueue_wait_pct: host.probes.main_runqueue_wait_pct,
        rss_peak_mib: host.probes.rss_peak_mib,
        relayed: host.counters.relayed,
        rate_limited: host.counters.rateLimited,
        deferred_frames: host.counters.deferredFrames,
        slow_consumers: host.counters.slowConsumers
      },
      load1_start: load1Start,
      load1
    }
    const profiles = spec.profileDir === undefined ? [] : reports.map((r) => {
      const dir = profileDirOf(r.id)
      const main = readdirSync(dir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f))
      if (main === undefined) throw new Error(`no main-thread profile in ${dir}`)
      const file = join(dir, main)
      const role = r.id === measured.leader ? "leader" : "follower"
      // A stall spans from the last tick that ran on time to the late one (probes.ts).
      const stalls = r.probes.longest_stalls.map((st) => {
        const fromUs = r.mono_start_us + (st.at - r.wall_start_ms) * 1000
        return { fromUs, toUs: fromUs + (st.ms + TICK_MS) * 1000, info: { ms: st.ms, cpu_ms: st.cpu_ms, wait_ms: st.wait_ms, commit_index: st.mark } }
      })
      return { node: r.id, role, file, summary: summarizeProfile(file, r.mono_start_us, r.mono_end_us, stalls) }
    })
    return { name, spec, record, profiles } satisfies PhaseResult
  })

/** The JSON line of one profiled process of a phase. */
export const profileLine = (phase: string, p: PhaseResult["profiles"][number]) => ({
  bench: `proc.profile.${phase.replace(/^proc\.raft\./, "")}.${p.node}`,
  node: p.node,
  role: p.role,
  file: p.file,
  ...p.summary
})
