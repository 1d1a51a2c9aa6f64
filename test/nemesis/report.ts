/** The readable end of `npm run nemesis`: one table of the runs, one of faults by kind. */
import { formatTable } from "../../bench/stats.js"
import { FAULT_KINDS } from "./nemesis.js"
import type { RunResult } from "./run.js"

export const summaryTable = (runs: ReadonlyArray<RunResult>): string => {
  const perRun = formatTable(
    ["seed", "voters", "s", "faults", "kinds", "ops", "ok", "failed", "unknown", "retries", "ops/s", "verdict", "check ms", "converged ms", "result"],
    runs.map((r) => [
      r.seed,
      r.voters,
      Math.round(r.durationMs / 1000),
      r.faults.length,
      new Set(r.faults.map((f) => f.kind)).size,
      r.operations,
      r.tally.ok,
      r.tally.failed,
      r.tally.unknown,
      r.tally.retries,
      Math.round((r.tally.ok / r.durationMs) * 1000),
      r.verdict,
      r.checkMs,
      r.convergedMs,
      r.passed ? "pass" : "FAIL"
    ])
  )
  const byKind = formatTable(
    ["fault kind", "injected", "longest unavailability ms", "longest heal ms"],
    FAULT_KINDS.map((kind) => {
      const fs = runs.flatMap((r) => r.faults.filter((f) => f.kind === kind))
      return [
        kind,
        fs.length,
        Math.max(0, ...runs.map((r) => r.unavailableMs[kind] ?? 0)),
        Math.max(0, ...fs.map((f) => f.healedAfter))
      ]
    })
  )
  return `${perRun}\n\n${byKind}`
}
