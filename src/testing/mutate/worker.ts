/**
 * The child process `npm run mutate` starts inside a scratch copy (`scratch.ts`): runs simulation
 * seeds one after another with the copy's own (possibly mutated) code, tells the parent when each
 * seed starts (so the parent can kill a seed that hangs inside one step) and how it ended, and
 * stops at the first failing seed. Node-only; not part of the published entry points.
 */
import { runSeed } from "../sim/runSeed.js"

/** What the parent asks for (environment variable `KUILT_MUTATE_JOB`, JSON). */
export interface WorkerJob {
  readonly from: number
  readonly seeds: number
  readonly ops: number
  readonly maxSteps: number
  readonly maxWallMs: number
}

/** What the worker reports, in order: `Started` before each seed, `Finished` after it. */
export type WorkerReport =
  | { readonly _tag: "Started"; readonly seed: number }
  | {
    readonly _tag: "Finished"
    readonly seed: number
    readonly ok: boolean
    /** The first violation (or the linearizability verdict) of a failing seed. */
    readonly caughtBy?: string
    readonly detail?: string
  }

const raw = process.env["KUILT_MUTATE_JOB"]
if (raw === undefined || process.send === undefined) {
  console.error("worker.ts runs under `npm run mutate` (src/testing/mutate/cli.ts)")
  process.exit(2)
}
const job = JSON.parse(raw) as WorkerJob
const send = (r: WorkerReport) => process.send!(r)
for (let seed = job.from; seed < job.from + job.seeds; seed++) {
  send({ _tag: "Started", seed })
  let report: WorkerReport
  try {
    const r = runSeed({ seed, operations: job.ops, maxSteps: job.maxSteps, maxWallMs: job.maxWallMs })
    const v = r.violations[0]
    report = r.ok
      ? { _tag: "Finished", seed, ok: true }
      : v !== undefined
      ? { _tag: "Finished", seed, ok: false, caughtBy: v.invariant, detail: v.detail }
      : { _tag: "Finished", seed, ok: false, caughtBy: "Linearizability", detail: (r.explanation ?? "").split("\n")[0] ?? "" }
  } catch (e) {
    // The code under test threw (a core bug surfacing as an exception): the seed failed.
    report = { _tag: "Finished", seed, ok: false, caughtBy: "Exception", detail: e instanceof Error ? e.message : String(e) }
  }
  send(report)
  if (!report.ok) break
}
process.disconnect()
