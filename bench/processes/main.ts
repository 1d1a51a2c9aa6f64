/**
 * `npm run bench:processes`: Raft across OS processes (issue 21 item 5, issue 19 items 4 and 6).
 *
 * A controller (this process) starts, as separate processes (`tsx`, IPC over the fork channel):
 * one `WebSocketHost` process and three voter processes, each a `RaftNode` over
 * `SeamRaftTransport.fromSeam` on a `WebSocketLoom.join` seam to that host, with in-memory or
 * SQLite storage and the default `RaftConfig`. For each storage × proposer (the leader's process,
 * or a follower's, which forwards) × proposals in flight it runs one phase on a fresh cluster
 * (`phase.ts`) and prints one JSON line: commits/s, p50/p99 propose → commit, leader changes,
 * CheckQuorum step-downs, `LeadershipLost`, each voter's event-loop lag, GC and peak RSS.
 *
 * Same-run baselines (`baselines.ts`): raw `ws` through a relay process between two client
 * processes, and a single SQLite WAL commit on this disk. Then re-election after SIGKILL of the
 * leader's process (`reelection.ts`). A table follows on stderr. `--help` lists the flags.
 *
 * Every child is killed when the controller exits, whatever the reason (`children.ts`); the run's
 * temp directory (SQLite files) is removed; profiles are kept.
 */
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { emit, runBench } from "../stats.js"
import type { Comparison } from "../stats.js"
import { walBaseline, wsBaseline } from "./baselines.js"
import { HELP, parseFlags } from "./flags.js"
import type { Flags } from "./flags.js"
import { phaseName, profileLine, runPhase } from "./phase.js"
import type { PhaseResult, PhaseSpec } from "./phase.js"
import { reelectionTrials } from "./reelection.js"
import type { Trials } from "./reelection.js"
import { printSummary } from "./report.js"
import type { RunSummary } from "./report.js"

const WS_RTT = "proc.ws.raw.rtt"
const WS_ONE_WAY = "proc.ws.raw.one_way"
const WAL = "proc.sqlite.wal_commit"

/** What a phase's line is compared with (same run): see BENCHMARKS.md. */
const comparisonFor = (s: PhaseSpec, baselines: boolean): Comparison | undefined => {
  if (s.proposer === "follower") return { vs: phaseName({ ...s, proposer: "leader" }), metric: "commits_per_s" }
  if (!baselines) return undefined
  if (s.inflight === 1) return s.storage === "sqlite" ? { vs: WAL, metric: "p50_us" } : { vs: WS_RTT, metric: "p50_us" }
  return { vs: WS_ONE_WAY, metric: "commits_per_s", baselineMetric: "frames_per_s" }
}

const run = (flags: Flags, runDir: string) =>
  Effect.gen(function*() {
    const summary: { -readonly [K in keyof RunSummary]: RunSummary[K] } = { ws: undefined, wal: undefined, phases: [], trials: [] }
    if (flags.baselines) {
      const ws = yield* wsBaseline
      emit({ bench: WS_RTT, ...ws.rtt })
      emit({ bench: WS_ONE_WAY, ...ws.oneWay })
      summary.ws = ws
      if (flags.storages.includes("sqlite")) {
        const wal = yield* walBaseline(runDir)
        emit({ bench: WAL, ...wal })
        summary.wal = wal
      }
    }
    let profileDir: string | undefined
    if (flags.profile) {
      profileDir = flags.profileDir ?? mkdtempSync(join(tmpdir(), "kuilt-procbench-profiles-"))
      mkdirSync(profileDir, { recursive: true })
      process.stderr.write(`profiles go to ${profileDir}\n`)
    }
    const phases: Array<PhaseResult> = []
    for (let round = 1; round <= flags.rounds; round++) {
      for (const storage of flags.storages) {
        for (const proposer of flags.proposers) {
          for (const inflight of flags.inflight) {
            const profiled = flags.profile && flags.profilePhases.includes(`${storage}.${proposer}.${inflight}`)
            const spec: PhaseSpec = {
              storage,
              proposer,
              inflight,
              durationS: flags.durationS,
              round,
              rounds: flags.rounds,
              profileDir: profiled ? profileDir : undefined,
              compactEveryMs: flags.compactEveryMs,
              runDir
            }
            const result = yield* runPhase(spec)
            emit(result.record, comparisonFor(spec, flags.baselines))
            for (const p of result.profiles) emit(profileLine(result.name, p))
            phases.push(result)
          }
        }
      }
    }
    summary.phases = phases
    const trials: Array<Trials> = []
    if (flags.trials > 0) {
      for (const storage of flags.storages) {
        const t = yield* reelectionTrials(storage, flags.trials, runDir)
        emit({ ...t })
        trials.push(t)
      }
    }
    summary.trials = trials
    printSummary(summary)
  })

const main = () => {
  let flags: Flags | undefined
  try {
    flags = parseFlags(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`)
    process.exit(2)
  }
  if (flags === undefined) {
    process.stdout.write(HELP)
    process.exit(0)
  }
  const runDir = mkdtempSync(join(tmpdir(), "kuilt-procbench-"))
  // Children are killed by the registry's own exit hook (children.ts); the data goes with the run.
  process.on("exit", () => rmSync(runDir, { recursive: true, force: true }))
  process.on("SIGINT", () => process.exit(130))
  process.on("SIGTERM", () => process.exit(143))
  runBench(run(flags, runDir))
}

main()
