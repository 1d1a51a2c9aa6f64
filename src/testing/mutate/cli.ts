/**
 * `npm run mutate -- [options]` (`--help` explains each): plants each catalogued bug class
 * (`catalogue.ts`) in its own scratch copy of the sources (`scratch.ts`), runs the simulator's
 * seeds against it (`worker.ts`, in a child process) until one fails, optionally runs tests in
 * the copy too, and prints a table: which mutations were caught, by which seed, after how many
 * seeds, how long it took and which check fired. An unmutated baseline runs first: if it fails,
 * no catch means anything. Exit code: 0 when the baseline passed and every mutation was caught,
 * 1 otherwise, 2 on bad arguments. Node-only; not part of the published entry points.
 */
import { type ChildProcess, fork, spawn } from "node:child_process"
import { cpus } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { DEFAULT_SEED_BUDGET } from "../sim/runSeed.js"
import { CATALOGUE } from "./catalogue.js"
import type { Mutation } from "./Mutation.js"
import { makeScratch, removeScratch } from "./scratch.js"
import type { WorkerJob, WorkerReport } from "./worker.js"

const HELP = `Usage: npm run mutate -- [options]

Plants each catalogued Raft bug class in a scratch copy of the sources (the working tree is never
touched), runs simulation seeds against it until one fails, and prints which were caught.

Options:
  --seeds N          most seeds per mutation (default 1000); a mutation not caught by then is "no"
  --from S           first seed (default 1)
  --only a,b         only these mutation ids (see --list)
  --list             print the catalogue and exit
  --baseline N       seeds of the unmutated copy run first (default 5; 0 skips it)
  --tests [paths]    also run vitest in each copy (default paths: test/regressions)
  --ops M            client operations per seed (default 300)
  --max-steps N      step budget per seed (default ${DEFAULT_SEED_BUDGET.steps})
  --seed-wall-ms N   wall-time budget per seed (default ${DEFAULT_SEED_BUDGET.wallMs}); a seed that
                     runs 30 s past it is killed and reported as a hang at that seed
  --workers W        mutations run at once (default min(2, cores))
  --json             print the rows as one JSON line after the table
  --help             print this help

Exit code: 0 baseline clean and every mutation caught, 1 otherwise, 2 bad arguments.`

interface Args {
  seeds: number
  from: number
  only: ReadonlyArray<string> | undefined
  list: boolean
  baseline: number
  tests: ReadonlyArray<string> | undefined
  ops: number
  maxSteps: number
  seedWallMs: number
  workers: number
  json: boolean
  help: boolean
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const args: Args = {
    seeds: 1000,
    from: 1,
    only: undefined,
    list: false,
    baseline: 5,
    tests: undefined,
    ops: 300,
    maxSteps: DEFAULT_SEED_BUDGET.steps,
    seedWallMs: DEFAULT_SEED_BUDGET.wallMs,
    workers: Math.min(2, cpus().length),
    json: false,
    help: false
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const int = () => {
      const v = Number(argv[++i])
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${flag} needs a non-negative integer`)
      return v
    }
    switch (flag) {
      case "--seeds":
        args.seeds = Math.max(1, int())
        break
      case "--from":
        args.from = int()
        break
      case "--only": {
        const ids = (argv[++i] ?? "").split(",").filter((s) => s.length > 0)
        const unknown = ids.filter((id) => !CATALOGUE.some((m) => m.id === id))
        if (ids.length === 0 || unknown.length > 0) throw new Error(`--only: unknown mutation ${unknown.join(", ") || "(none given)"} (see --list)`)
        args.only = ids
        break
      }
      case "--list":
        args.list = true
        break
      case "--baseline":
        args.baseline = int()
        break
      case "--tests": {
        const paths: Array<string> = []
        while (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) paths.push(argv[++i]!)
        args.tests = paths.length > 0 ? paths : ["test/regressions"]
        break
      }
      case "--ops":
        args.ops = int()
        break
      case "--max-steps":
        args.maxSteps = Math.max(1, int())
        break
      case "--seed-wall-ms":
        args.seedWallMs = Math.max(1, int())
        break
      case "--workers":
        args.workers = Math.max(1, int())
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

/** One row of the table. */
export interface Row {
  readonly mutation: string
  /** `yes`, `no`, or `error` (the anchors did not apply, or the copy did not run). */
  readonly caught: "yes" | "no" | "error"
  readonly firstFailingSeed: number | undefined
  readonly seedsRun: number
  readonly seconds: number
  /** The check that fired (an invariant, `Linearizability`, `Budget`, `Hang`, `Exception`), or the error. */
  readonly by: string
  readonly detail: string
  /** With `--tests`: whether the tests failed on the copy. */
  readonly tests?: "caught" | "passed" | "error"
}

/** How long past its own wall budget a seed may run before the parent kills it. */
const HANG_GRACE_MS = 30_000

/** Runs the seeds of `job` in the copy at `dir`, stopping at the first failure. */
const runSeeds = (dir: string, job: WorkerJob): Promise<Omit<Row, "mutation" | "caught" | "seconds" | "tests"> & { failed: boolean; error?: string }> =>
  new Promise((resolve) => {
    let seedsRun = 0
    let current: number | undefined = undefined
    let finished: (WorkerReport & { _tag: "Finished" }) | undefined = undefined
    let hung = false
    let stderr = ""
    const child: ChildProcess = fork(join(dir, "src/testing/mutate/worker.ts"), [], {
      cwd: dir,
      execArgv: ["--import", "tsx"],
      env: { ...process.env, KUILT_MUTATE_JOB: JSON.stringify(job) },
      stdio: ["ignore", "ignore", "pipe", "ipc"]
    })
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000)
    })
    let timer: ReturnType<typeof setTimeout> | undefined = undefined
    const arm = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = setTimeout(() => {
        hung = true
        child.kill("SIGKILL")
      }, job.maxWallMs + HANG_GRACE_MS)
    }
    arm()
    child.on("message", (m) => {
      const r = m as WorkerReport
      arm()
      if (r._tag === "Started") {
        current = r.seed
        return
      }
      seedsRun++
      current = undefined
      if (!r.ok) finished = r
    })
    child.on("exit", (code, signal) => {
      if (timer !== undefined) clearTimeout(timer)
      const f = finished
      if (f !== undefined) {
        return resolve({ failed: true, firstFailingSeed: f.seed, seedsRun, by: f.caughtBy ?? "?", detail: f.detail ?? "" })
      }
      if (hung && current !== undefined) {
        return resolve({
          failed: true,
          firstFailingSeed: current,
          seedsRun: seedsRun + 1,
          by: "Hang",
          detail: `seed ${current} ran ${job.maxWallMs + HANG_GRACE_MS} ms without finishing: killed`
        })
      }
      if (current !== undefined) {
        // The process died inside a seed (a stack overflow, out of memory): that seed failed.
        return resolve({ failed: true, firstFailingSeed: current, seedsRun: seedsRun + 1, by: "Crash", detail: `exit ${code ?? signal}: ${lastLine(stderr)}` })
      }
      if (code === 0 && seedsRun === job.seeds) return resolve({ failed: false, firstFailingSeed: undefined, seedsRun, by: "", detail: "" })
      resolve({ failed: false, firstFailingSeed: undefined, seedsRun, by: "", detail: "", error: `worker exit ${code ?? signal}: ${lastLine(stderr)}` })
    })
  })

const lastLine = (s: string): string => s.trim().split("\n").slice(-1)[0] ?? ""

/** Runs vitest on `paths` in the copy; resolves how it ended. */
const runTests = (dir: string, paths: ReadonlyArray<string>): Promise<"caught" | "passed" | "error"> =>
  new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", ...paths], { cwd: dir, stdio: "ignore", detached: true })
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
    }, 20 * 60_000)
    child.on("error", () => resolve("error"))
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve(signal !== null ? "error" : code === 0 ? "passed" : "caught")
    })
  })

const ROOT = fileURLToPath(new URL("../../..", import.meta.url))

const runOne = async (mutation: Mutation | undefined, args: Args, seeds: number): Promise<Row> => {
  const started = performance.now()
  const name = mutation?.id ?? "(baseline: no mutation)"
  const scratch = makeScratch(ROOT, mutation, { withTests: args.tests !== undefined })
  if (scratch._tag === "PatchFailed") {
    return { mutation: name, caught: "error", firstFailingSeed: undefined, seedsRun: 0, seconds: 0, by: "anchor", detail: scratch.errors.join("; ") }
  }
  try {
    const r = await runSeeds(scratch.dir, {
      from: args.from,
      seeds,
      ops: args.ops,
      maxSteps: args.maxSteps,
      maxWallMs: args.seedWallMs
    })
    const tests = args.tests !== undefined ? await runTests(scratch.dir, args.tests) : undefined
    const seconds = Math.round((performance.now() - started) / 100) / 10
    return {
      mutation: name,
      caught: r.error !== undefined ? "error" : r.failed ? "yes" : "no",
      firstFailingSeed: r.firstFailingSeed,
      seedsRun: r.seedsRun,
      seconds,
      by: r.error !== undefined ? "worker" : r.by,
      detail: r.error ?? r.detail,
      ...(tests !== undefined ? { tests } : {})
    }
  } finally {
    removeScratch(scratch.dir)
  }
}

/** The table, as plain aligned text. */
export const formatTable = (rows: ReadonlyArray<Row>, withTests: boolean): string => {
  const header = ["mutation", "caught", "first failing seed", "seeds run", "time (s)", "caught by", ...(withTests ? ["tests"] : [])]
  const cells = rows.map((r) => [
    r.mutation,
    r.caught,
    r.firstFailingSeed === undefined ? "-" : String(r.firstFailingSeed),
    String(r.seedsRun),
    r.seconds.toFixed(1),
    r.by || "-",
    ...(withTests ? [r.tests ?? "-"] : [])
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: ReadonlyArray<string>) => c.map((x, i) => x.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n")
}

const main = async (): Promise<number> => {
  let args: Args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e))
    return 2
  }
  if (args.help) {
    console.log(HELP)
    return 0
  }
  const chosen = args.only === undefined ? CATALOGUE : CATALOGUE.filter((m) => args.only!.includes(m.id))
  if (args.list) {
    for (const m of CATALOGUE) console.log(`${m.id.padEnd(28)} ${m.title}  [${m.source}]`)
    return 0
  }
  const started = performance.now()
  const rows: Array<Row> = []
  const log = (r: Row) =>
    process.stderr.write(
      `${r.mutation}: ${r.caught}${r.firstFailingSeed !== undefined ? ` at seed ${r.firstFailingSeed}` : ""} after ${r.seedsRun} seeds, ${r.seconds} s${r.by ? ` (${r.by})` : ""}\n`
    )
  let baseline: Row | undefined = undefined
  if (args.baseline > 0) {
    baseline = await runOne(undefined, args, args.baseline)
    log(baseline)
  }
  const queue = [...chosen]
  const byId = new Map<string, Row>()
  await Promise.all(Array.from({ length: Math.min(args.workers, queue.length) }, async () => {
    for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
      const row = await runOne(m, args, args.seeds)
      byId.set(m.id, row)
      log(row)
    }
  }))
  for (const m of chosen) rows.push(byId.get(m.id)!)
  const all = baseline !== undefined ? [baseline, ...rows] : rows
  console.log(`\n${formatTable(all, args.tests !== undefined)}`)
  for (const r of all) if (r.caught !== "no" && r.detail !== "") console.log(`  ${r.mutation}: ${r.detail.length > 200 ? `${r.detail.slice(0, 197)}...` : r.detail}`)
  const baselineClean = baseline === undefined || baseline.caught === "no"
  const caught = rows.filter((r) => r.caught === "yes").length
  console.log(
    `\n${caught}/${rows.length} caught within ${args.seeds} seeds` +
      (baseline !== undefined ? `; baseline ${baselineClean ? "clean" : "FAILED"} over ${baseline.seedsRun} seeds` : "") +
      `; ${Math.round((performance.now() - started) / 1000)} s`
  )
  if (args.json) console.log(JSON.stringify(all))
  return baselineClean && caught === rows.length ? 0 : 1
}

main().then((code) => process.exit(code), (e) => {
  console.error(e)
  process.exit(2)
})
