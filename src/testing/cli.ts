/**
 * `npm run sim -- --seeds N [--from S] [--nodes K] [--ops M] [--workers W] [--json]` (`--help`
 * explains each): runs simulation seeds in worker processes, shows progress (a bar on a terminal,
 * a line every 10 s or 10% of the seeds otherwise, on stderr), and prints a summary (seeds/s,
 * faults injected by kind, operations checked, operator actions and their outcomes,
 * snapshots/installs/reads/elections, frames the adversaries sent and members refused). A failing
 * seed is reported with the one-line command that reproduces it and an excerpt of its trace; the
 * exit code is 1 if any seed failed, 2 on bad arguments. Node-only (not part of the published
 * entry points).
 */
import { fork } from "node:child_process"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import { runSeed } from "./sim/runSeed.js"
import type { SimResult } from "./sim/runSeed.js"

const HELP = `Usage: npm run sim -- [options]

Runs deterministic simulations of a Raft cluster (pure cores, virtual time): each seed draws a
cluster size, fault families (crashes, partitions, pauses, message loss, disk loss...), operator
moves (membership changes, leadership transfers), adversaries (strangers and removed members
forging frames) and a client workload, then checks every safety invariant at every step, liveness
after the faults stop, and linearizability of the client history.

Options:
  --seeds N     number of seeds to run (default 100)
  --from S      first seed (default 1): seeds S .. S+N-1
  --nodes K     cluster size (1-7); default: drawn from each seed
  --ops M       client operations per seed (default 300)
  --workers W   worker processes (default: min(2, cores))
  --json        print the summary as one JSON line
  --help        print this help

A failing seed prints the command that reproduces it. Exit code: 0 all passed, 1 a seed failed,
2 bad arguments.`

interface Args {
  seeds: number
  from: number
  nodes: number | undefined
  ops: number
  workers: number
  json: boolean
  help: boolean
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const args: Args = { seeds: 100, from: 1, nodes: undefined, ops: 300, workers: Math.min(2, cpus().length), json: false, help: false }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = () => {
      const v = Number(argv[++i])
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${flag} needs a non-negative integer`)
      return v
    }
    switch (flag) {
      case "--seeds":
        args.seeds = value()
        break
      case "--from":
        args.from = value()
        break
      case "--nodes": {
        const n = value()
        if (n < 1 || n > 7) throw new Error("--nodes needs a cluster size in 1..7")
        args.nodes = n
        break
      }
      case "--ops":
        args.ops = value()
        break
      case "--workers":
        args.workers = Math.max(1, value())
        break
      case "--json":
        args.json = true
        break
      case "--help":
      case "-h":
        args.help = true
        break
      default:
        throw new Error(`unknown flag ${flag} (see --help)`)
    }
  }
  return args
}

interface Job {
  readonly seeds: ReadonlyArray<number>
  readonly nodes: number | undefined
  readonly ops: number
}

const WORKER_ENV = "KUILT_SIM_JOB"
const job = process.env[WORKER_ENV]
if (job !== undefined) {
  const { seeds, nodes, ops } = JSON.parse(job) as Job
  for (const seed of seeds) {
    const r = runSeed({ seed, operations: ops, ...(nodes !== undefined ? { nodes } : {}) })
    process.send!(r)
  }
  process.disconnect()
} else {
  let parsed: Args
  try {
    parsed = parseArgs(process.argv.slice(2))
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e))
    process.exit(2)
  }
  const args = parsed
  if (args.help) {
    console.log(HELP)
    process.exit(0)
  }
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.from + i)
  const started = performance.now()
  const results: Array<SimResult> = []
  const faults = new Map<string, number>()
  const operator = new Map<string, number>()
  const stats = new Map<string, number>()
  const adversary = new Map<string, number>()
  const add = (m: Map<string, number>, r: Readonly<Record<string, number>>) => {
    for (const [k, v] of Object.entries(r)) m.set(k, (m.get(k) ?? 0) + v)
  }
  const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)))
  let lastLine = started
  let lastLineDone = 0
  const progress = () => {
    const done = results.length
    const rate = done / ((performance.now() - started) / 1000)
    const failed = results.filter((r) => !r.ok).length
    if (process.stderr.isTTY) {
      const width = 30
      const filled = Math.round((done / Math.max(1, seeds.length)) * width)
      process.stderr.write(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${seeds.length} seeds  ${rate.toFixed(1)}/s  failed ${failed}`)
      return
    }
    // Not a terminal (CI logs, a pipe): a plain line every 10 s or 10% of the seeds.
    const now = performance.now()
    const step = Math.max(1, Math.ceil(seeds.length / 10))
    if (done === seeds.length || now - lastLine >= 10_000 || done - lastLineDone >= step) {
      lastLine = now
      lastLineDone = done
      process.stderr.write(`progress: ${done}/${seeds.length} seeds, ${rate.toFixed(1)}/s, failed ${failed}\n`)
    }
  }
  const workers = Array.from({ length: Math.min(args.workers, seeds.length) }, (_, w) =>
    new Promise<void>((resolve, reject) => {
      const mine = seeds.filter((_, i) => i % args.workers === w)
      // A child process (not a worker thread): it runs this same TypeScript file through tsx.
      const worker = fork(fileURLToPath(import.meta.url), [], {
        execArgv: ["--import", "tsx"],
        env: { ...process.env, [WORKER_ENV]: JSON.stringify({ seeds: mine, nodes: args.nodes, ops: args.ops } satisfies Job) }
      })
      worker.on("message", (message) => {
        const r = message as SimResult
        results.push(r)
        add(faults, r.faults)
        add(operator, r.operator)
        add(stats, r.stats)
        add(adversary, r.adversary)
        progress()
      })
      worker.on("error", reject)
      worker.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`simulation worker exited with ${code}`))))
    }))
  Promise.all(workers).then(() => {
    if (process.stderr.isTTY) process.stderr.write("\n")
    const seconds = (performance.now() - started) / 1000
    const failed = results.filter((r) => !r.ok).sort((a, b) => a.seed - b.seed)
    for (const r of failed) {
      console.log(`\nFAILED seed ${r.seed} (${r.nodes} nodes, faults: ${r.families.join(", ")})`)
      console.log(`  reproduce: npm run sim -- --seeds 1 --from ${r.seed} --nodes ${r.nodes} --ops ${args.ops}`)
      for (const v of r.violations) console.log(`  ${v.invariant} at ${v.at} ms: ${v.detail}`)
      if (r.explanation !== undefined) console.log(r.explanation.split("\n").map((l) => `  ${l}`).join("\n"))
      console.log("  trace excerpt (last events):")
      for (const line of r.traceExcerpt.slice(-15)) console.log(`    ${line}`)
    }
    const summary = {
      seeds: results.length,
      failed: failed.length,
      seeds_per_s: Math.round((results.length / seconds) * 10) / 10,
      seconds: Math.round(seconds * 10) / 10,
      operations_checked: results.reduce((a, r) => a + r.operations.invoked, 0),
      unknown_outcomes: results.reduce((a, r) => a + r.operations.unknown, 0),
      linearizability_unknown: results.filter((r) => r.linearizability === "unknown").length,
      faults_by_kind: sorted(faults),
      operator: sorted(operator),
      stats: sorted(stats),
      adversary: sorted(adversary),
      messages: results.reduce((a, r) => a + r.messages, 0)
    }
    console.log(args.json ? JSON.stringify(summary) : `\n${JSON.stringify(summary, null, 2)}`)
    process.exit(failed.length > 0 ? 1 : 0)
  }, (e) => {
    console.error(e)
    process.exit(2)
  })
}
