/**
 * Linearizability checker benchmark (`npm run bench:checker`): checks every history of a copy of
 * Porcupine's public test data (Jepsen etcd logs and kv histories, with a `verdicts.json` of the
 * verdicts Porcupine's tests assert) with `checkLinearizability`, and — when a Go toolchain is on
 * the PATH — runs Porcupine itself on the same files in the same run, single-threaded
 * (GOMAXPROCS=1; our checker is single-threaded too).
 *
 * Usage: `npm run bench:checker -- [--reference DIR] [--rounds N] [--no-porcupine]`
 *
 * - `--reference DIR`: the corpus folder, holding `histories/` (with `verdicts.json`) and
 *   `porcupine-bench/` (Porcupine's sources and a Go driver that prints one JSON line per check).
 *   Default: `../shared/linearizability-reference` next to the repository. When it is absent the
 *   benchmark says so and exits 0.
 * - `--rounds N` (default 2): rounds alternate the two checkers (ours, Porcupine, Porcupine,
 *   ours, …); each check's figure is its best round, for both.
 *
 * Porcupine is built into a temporary directory (never inside the repository), offline
 * (`GOPROXY=off`; it has no dependencies). Each check is timed alone, after a garbage
 * collection, parsing excluded, as the Go driver does.
 *
 * Output: one JSON line per check (`checker.<file>[.partitioned|.unpartitioned]`: our verdict,
 * steps, `ms` and `cpu_ms` (best round), `first_round_ms` (the cold run: our JIT warms up, Go
 * does not), Porcupine's verdict and times, `ratio` = our ms / Porcupine's ms,
 * `wrong` when a verdict disagrees with verdicts.json), then `checker.total` (sums, ratio,
 * wrong and unknown counts, files listed in verdicts.json but absent). Exit status 1 if our
 * checker gave a wrong verdict or "unknown" on a history with a known verdict.
 */
import { Data, Effect } from "effect"
import { execFile } from "node:child_process"
import { chmod, cp, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import type { ReferenceCheck, ReferenceOutcome, ReferenceVerdict } from "../src/testing/linearizability/ReferenceCorpus.js"
import { referenceChecks, referenceOutcome } from "../src/testing/linearizability/ReferenceCorpus.js"
import { emit, round, runBench } from "./stats.js"

/** Our checker gave a wrong verdict, or "unknown", on a history whose verdict is known. */
class CheckerVerdictsFailed extends Data.TaggedError("CheckerVerdictsFailed")<{
  readonly wrong: number
  readonly unknown: number
}> {}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..")

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const referenceDir = resolve(flag("--reference") ?? join(repoRoot, "..", "shared", "linearizability-reference"))
const historiesDir = join(referenceDir, "histories")
const rounds = Math.max(1, Number(flag("--rounds") ?? 2) | 0)
const withPorcupine = !process.argv.includes("--no-porcupine")

setFlagsFromString("--expose-gc")
const exposedGc = runInNewContext("gc") as (options: { type: "major"; execution: "sync" }) => void
// A major collection before each check, as the Go driver does. With no options `gc()` is a
// memory-reducing collection that also flushes compiled code, so every check would start cold:
// measured here, c50-bad stayed at ~110 ms per round instead of warming to ~20 ms.
const gc = () => exposedGc({ type: "major", execution: "sync" })
const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const exists = (path: string) => stat(path).then(() => true, () => false)

const run = (file: string, args: ReadonlyArray<string>, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(file, args, { ...options, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
  })

/** Per check: best wall and CPU milliseconds over the rounds, the first round's, the verdict. */
interface Timing {
  ms: number
  cpu_ms: number
  first_ms: number
  result: ReferenceOutcome
  steps?: number
}

const best = (into: Map<string, Timing>, key: string, t: Omit<Timing, "first_ms">) => {
  const old = into.get(key)
  if (old === undefined) into.set(key, { ...t, first_ms: t.ms })
  else {
    old.ms = Math.min(old.ms, t.ms)
    old.cpu_ms = Math.min(old.cpu_ms, t.cpu_ms)
  }
}

const runOurs = (checks: ReadonlyArray<ReferenceCheck>, into: Map<string, Timing>) => {
  for (const check of checks) {
    gc()
    const c0 = cpuMs()
    const t0 = performance.now()
    const result = check.run()
    const ms = performance.now() - t0
    best(into, check.name, { ms, cpu_ms: cpuMs() - c0, result: referenceOutcome(result), steps: result.steps })
  }
}

/** Builds the Go driver in a temporary directory; undefined (with a message) if that fails. */
const buildPorcupine = async (work: string): Promise<string | undefined> => {
  const go = await run("go", ["version"])
  if (go.code !== 0) {
    console.error("bench:checker: no Go toolchain on the PATH (apt-get install golang-go); Porcupine not run")
    return undefined
  }
  if (!(await exists(join(referenceDir, "porcupine-bench", "main.go")))) {
    console.error(`bench:checker: no porcupine-bench/ in ${referenceDir}; Porcupine not run`)
    return undefined
  }
  const source = join(work, "porcupine-bench")
  await cp(join(referenceDir, "porcupine-bench"), source, { recursive: true })
  await chmod(source, 0o755)
  const env = { ...process.env, GOFLAGS: "-mod=mod", GOPROXY: "off", GOWORK: "off", GO111MODULE: "on", GOTOOLCHAIN: "local" }
  const binary = join(work, "porcupinebench")
  const built = await run("go", ["build", "-o", binary, "."], { cwd: source, env })
  if (built.code !== 0) {
    console.error(`bench:checker: building Porcupine failed; not run:\n${built.stderr}`)
    return undefined
  }
  console.error(`bench:checker: ${go.stdout.trim()}; Porcupine built`)
  return binary
}

const runPorcupine = async (binary: string, into: Map<string, Timing>) => {
  // Exit status 1 also means "a file listed in verdicts.json is missing": read the lines anyway.
  const out = await run(binary, [historiesDir], { env: { ...process.env, GOMAXPROCS: "1" } })
  for (const line of out.stdout.split("\n")) {
    if (!line.startsWith("{\"file\"")) continue
    const r = JSON.parse(line) as { file: string; partitioned?: boolean; ms: number; cpu_ms: number; result: ReferenceOutcome }
    const name = r.partitioned === undefined ? r.file : `${r.file} (${r.partitioned ? "partitioned" : "unpartitioned"})`
    best(into, name, { ms: r.ms, cpu_ms: r.cpu_ms, result: r.result })
  }
}

const main = Effect.gen(function*() {
  if (!(yield* Effect.promise(() => exists(join(historiesDir, "verdicts.json"))))) {
    const reason = `no reference corpus at ${referenceDir} (expected histories/verdicts.json; pass --reference DIR)`
    console.error(`bench:checker: skipped: ${reason}`)
    emit({ bench: "checker.skipped", reason })
    return
  }
  const verdicts = JSON.parse(yield* Effect.promise(() => readFile(join(historiesDir, "verdicts.json"), "utf8"))) as Record<
    string,
    ReferenceVerdict
  >
  const files: Array<string> = []
  for (const [folder, suffix] of [["jepsen", ".log"], ["kv", ".txt"]] as const) {
    const names = yield* Effect.promise(() => readdir(join(historiesDir, folder)).catch(() => [] as Array<string>))
    for (const name of names) if (name.endsWith(suffix)) files.push(`${folder}/${name}`)
  }
  files.sort()
  const missing = Object.keys(verdicts).filter((f) => !files.includes(f)).sort()
  const checks: Array<ReferenceCheck> = []
  for (const file of files) {
    const text = yield* Effect.promise(() => readFile(join(historiesDir, file), "utf8"))
    checks.push(...referenceChecks(file, text, verdicts[file]))
  }

  const work = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "kuilt-porcupine-")))
  const binary = withPorcupine ? yield* Effect.promise(() => buildPorcupine(work)) : undefined
  const ours = new Map<string, Timing>()
  const theirs = new Map<string, Timing>()
  for (let r = 0; r < rounds; r++) {
    // Alternate who goes first (ours, Porcupine, Porcupine, ours, …) so drift in machine load
    // does not favour one side.
    const order = r % 2 === 0 ? ["ours", "porcupine"] : ["porcupine", "ours"]
    for (const who of order) {
      if (who === "ours") runOurs(checks, ours)
      else if (binary !== undefined) yield* Effect.promise(() => runPorcupine(binary, theirs))
    }
  }
  yield* Effect.promise(() => rm(work, { recursive: true, force: true }))

  let wrong = 0
  let unknown = 0
  let disagree = 0
  let total = 0
  let totalCpu = 0
  let porcupineTotal = 0
  let porcupineCpu = 0
  let firstTotal = 0
  let porcupineFirst = 0
  let compared = 0
  for (const check of checks) {
    const o = ours.get(check.name)!
    const p = theirs.get(check.name)
    const isWrong = check.expected !== "unknown" && o.result !== check.expected
    if (isWrong) wrong++
    if (check.expected !== "unknown" && o.result === "unknown") unknown++
    total += o.ms
    totalCpu += o.cpu_ms
    firstTotal += o.first_ms
    if (p !== undefined) {
      compared++
      porcupineTotal += p.ms
      porcupineCpu += p.cpu_ms
      porcupineFirst += p.first_ms
      if (p.result !== o.result) disagree++
    }
    const suffix = check.partitioned === undefined ? "" : check.partitioned ? ".partitioned" : ".unpartitioned"
    emit({
      bench: `checker.${check.file}${suffix}`,
      model: check.model,
      ...(check.partitioned === undefined ? {} : { partitioned: check.partitioned }),
      ops: check.operations,
      expected: check.expected,
      result: o.result,
      steps: o.steps,
      ms: round(o.ms, 3),
      cpu_ms: round(o.cpu_ms, 3),
      first_round_ms: round(o.first_ms, 3),
      ...(p === undefined ? {} : {
        porcupine_result: p.result,
        porcupine_ms: p.ms,
        porcupine_cpu_ms: p.cpu_ms,
        porcupine_first_round_ms: p.first_ms,
        agree: p.result === o.result,
        vs: "porcupine",
        ratio: p.ms > 0 ? round(o.ms / p.ms, 3) : null
      }),
      ...(isWrong ? { wrong: true } : {})
    })
  }
  if (missing.length > 0) {
    console.error(`bench:checker: ${missing.length} histories listed in verdicts.json are absent (e.g. ${missing[0]})`)
  }
  emit({
    bench: "checker.total",
    files: files.length,
    checks: checks.length,
    rounds,
    wrong,
    unknown,
    missing: missing.length,
    ms: round(total, 3),
    cpu_ms: round(totalCpu, 3),
    first_round_ms: round(firstTotal, 3),
    ...(binary === undefined ? { porcupine: "not run" } : {
      porcupine_checks: compared,
      porcupine_ms: round(porcupineTotal, 3),
      porcupine_cpu_ms: round(porcupineCpu, 3),
      porcupine_first_round_ms: round(porcupineFirst, 3),
      verdicts_differing_from_porcupine: disagree,
      vs: "porcupine",
      ratio: porcupineTotal > 0 ? round(total / porcupineTotal, 3) : null,
      cpu_ratio: porcupineCpu > 0 ? round(totalCpu / porcupineCpu, 3) : null,
      first_round_ratio: porcupineFirst > 0 ? round(firstTotal / porcupineFirst, 3) : null
    })
  })
  if (wrong > 0 || unknown > 0) {
    return yield* new CheckerVerdictsFailed({ wrong, unknown })
  }
})

runBench(main)
