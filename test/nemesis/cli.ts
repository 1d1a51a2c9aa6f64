/**
 * `npm run nemesis`: real-process fault runs. Each run starts a WebSocket host and N voters (each
 * an OS process, voters on SQLite files), runs concurrent KV clients while a seeded nemesis injects
 * faults, heals, checks convergence, exactly-once application and linearizability, and prints a
 * summary table. A failing run keeps its data directory (history and fault log) and prints the
 * command that replays its seed. Exit code 1 when any run fails.
 */
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { summaryTable } from "./report.js"
import { nemesisRun } from "./run.js"
import type { RunResult } from "./run.js"
import type { Plant } from "./voterChild.js"

const HELP = `npm run nemesis -- [options]

  --runs N          runs, one after another (default 1)
  --duration S      seconds of clients + faults per run (default 60; see --min-faults)
  --seed N          seed of the first run; run i uses seed+i (default: from the clock, printed)
  --voters LIST     voters per run, cycled over the runs, e.g. 3 or 3,3,5 (default 3)
  --clients N       concurrent logical clients (default 8)
  --keys N          keys the clients share (default 4)
  --interval MS     mean time between fault starts (default 1000)
  --converge MS     longest wait for the voters to agree after healing (default 60000)
  --plant KIND      run a deliberately broken voter to show the checker catches it:
                    stale-read (reads without a read fence) or early-ack (puts acknowledged
                    before they commit); such a run is expected to FAIL
  --min-faults N    a run goes on past --duration until the nemesis injected N faults
                    (default 0; CI: 30) ...
  --min-kinds N     ... of at least N kinds (default 0; CI: 5), and fails if it has not
                    by --max-duration
  --max-duration S  the longest a run may take to meet those bars (default 3 × --duration)
  --keep            keep every run's data directory (a failing run's is always kept)
  --json FILE       write the results as JSON
  --help            this text
`

const argv = process.argv.slice(2)
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(HELP)
  process.exit(0)
}
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const int = (name: string, fallback: number): number => {
  const v = flag(name)
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`--${name} wants a non-negative integer, got ${JSON.stringify(v)}\n`)
    process.exit(2)
  }
  return n
}
const known = new Set(["runs", "duration", "seed", "voters", "clients", "keys", "interval", "converge", "min-faults", "min-kinds", "max-duration", "plant", "keep", "json", "help"])
for (const a of argv) {
  if (a.startsWith("--") && !known.has(a.slice(2))) {
    process.stderr.write(`unknown option ${a}\n\n${HELP}`)
    process.exit(2)
  }
}
const plant = (flag("plant") ?? "none") as Plant
if (!["none", "stale-read", "early-ack"].includes(plant)) {
  process.stderr.write(`--plant wants stale-read or early-ack\n`)
  process.exit(2)
}
const runs = Math.max(1, int("runs", 1))
const duration = int("duration", 60)
const seed = int("seed", Date.now() % 1_000_000)
const voterCounts = (flag("voters") ?? "3").split(",").map(Number)
if (voterCounts.some((n) => !Number.isSafeInteger(n) || n < 3)) {
  process.stderr.write(`--voters wants counts of at least 3\n`)
  process.exit(2)
}
// Ctrl-C: exit through process.on("exit"), which kills the children and removes the bundle.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130))
const log = (line: string) => process.stderr.write(`[nemesis] ${line}\n`)

const program = Effect.gen(function*() {
  const results: Array<RunResult> = []
  for (let i = 0; i < runs; i++) {
    const voters = voterCounts[i % voterCounts.length]!
    const runSeed = seed + i
    log(`run ${i + 1}/${runs}: seed ${runSeed}, ${voters} voters, ${duration} s${plant === "none" ? "" : `, PLANTED FAULT ${plant}`}`)
    const r = yield* nemesisRun({
      seed: runSeed,
      voters,
      durationMs: duration * 1000,
      clients: int("clients", 8),
      keys: int("keys", 4),
      intervalMs: int("interval", 1000),
      plant,
      convergeMs: int("converge", 60_000),
      minFaults: int("min-faults", 0),
      minKinds: int("min-kinds", 0),
      maxDurationMs: int("max-duration", 3 * duration) * 1000,
      keep: argv.includes("--keep"),
      log
    })
    results.push(r)
    log(`run ${i + 1}: ${r.faults.length} faults, ${r.operations} operations, ${r.verdict} (check ${r.checkMs} ms): ${r.passed ? "pass" : "FAIL"}`)
    for (const f of r.failures) log(`  failure: ${f}`)
    if (!r.passed) {
      log(`  data kept in ${r.dataDir}; replay: npm run nemesis -- --seed ${runSeed} --voters ${voters} --duration ${duration}${plant === "none" ? "" : ` --plant ${plant}`}`)
    }
  }
  process.stdout.write(`\n${summaryTable(results)}\n`)
  const json = flag("json")
  if (json !== undefined) writeFileSync(json, JSON.stringify(results, null, 1))
  return results.every((r) => r.passed)
})

Effect.runPromise(program).then(
  (ok) => process.exit(ok ? 0 : 1),
  (e) => {
    process.stderr.write(`nemesis harness error: ${String(e)}\n`)
    process.exit(1)
  }
)
