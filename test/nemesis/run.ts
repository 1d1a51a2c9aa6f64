/**
 * One nemesis run: start the host and the voters as processes, run the clients and the nemesis
 * for `durationMs`, heal (resume, restart, wait for the faults to finish), then check:
 * - the voters converge (same applied index and digest) within `convergeMs`;
 * - every acknowledged write applied exactly once on every voter, and no voter applied a command
 *   twice (the session table filtered every duplicate);
 * - no process exited unless the nemesis killed it; no stranger took a voter's id;
 * - the history is linearizable (the built-in checker, kv model, per key).
 */
import { Duration, Effect, Fiber } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { checkLinearizability } from "../../src/testing/linearizability/Checker.js"
import { kvModel } from "../../src/testing/linearizability/KvModel.js"
import { runClients } from "./clients.js"
import type { ClientTally } from "./clients.js"
import { runNemesis } from "./nemesis.js"
import type { Fault } from "./nemesis.js"
import { Procs } from "./procs.js"
import type { Plant, VoterFinal } from "./voterChild.js"

export interface RunOptions {
  readonly seed: number
  readonly voters: number
  readonly durationMs: number
  readonly clients: number
  readonly keys: number
  readonly intervalMs: number
  readonly plant: Plant
  readonly convergeMs: number
  /**
   * CI's bars: the run goes on past `durationMs` until the nemesis has injected `minFaults` faults
   * of `minKinds` kinds (on a loaded machine restarts are slow and faults come slower), and fails
   * if it has not by `maxDurationMs`.
   */
  readonly minFaults: number
  readonly minKinds: number
  readonly maxDurationMs: number
  /** Keep the data directory and history (always kept when the run fails). */
  readonly keep: boolean
  readonly log: (line: string) => void
}

export interface RunResult {
  readonly seed: number
  readonly voters: number
  readonly durationMs: number
  readonly faults: ReadonlyArray<Fault>
  readonly tally: Omit<ClientTally, "okAt" | "acknowledged">
  readonly operations: number
  readonly verdict: "linearizable" | "not linearizable" | "undecided"
  readonly explanation: string
  readonly checkMs: number
  readonly convergedMs: number
  /** Longest gap (ms) from a fault's start to the next acknowledged write, per kind. */
  readonly unavailableMs: Record<string, number>
  readonly failures: ReadonlyArray<string>
  readonly dataDir: string
  readonly passed: boolean
}

const SECRET = "nemesis harness secret, at least 32 bytes long"

export const nemesisRun = (options: RunOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const dataDir = mkdtempSync(join(tmpdir(), `kuilt-nemesis-${options.seed}-`))
    const voters = Array.from({ length: options.voters }, (_, i) => `n${i + 1}`)
    const procs = new Procs({ voters, dataDir, secret: SECRET, plant: options.plant, opTimeoutMs: 2_000 }, yield* Effect.scope)
    yield* Effect.addFinalizer(() => Effect.sync(() => (procs.closing = true)))
    yield* procs.startHost(0)
    yield* Effect.forEach(voters, (id) => procs.startVoter(id), { concurrency: "unbounded", discard: true })
    options.log(`seed ${options.seed}: host ${procs.hostInfo.url}, ${voters.length} voters on SQLite in ${dataDir}`)

    const t0 = Date.now()
    const faults: Array<Fault> = []
    const barsMet = () => faults.length >= options.minFaults && new Set(faults.map((f) => f.kind)).size >= options.minKinds
    const stop = () => {
      const elapsed = Date.now() - t0
      return elapsed >= options.maxDurationMs || (elapsed >= options.durationMs && barsMet())
    }
    const clients = yield* Effect.fork(runClients(procs, { clients: options.clients, keys: options.keys, seed: options.seed, attemptMs: 2_500, requestMs: 8_000 }, t0, stop))
    const nemesis = yield* runNemesis(procs, { seed: options.seed, intervalMs: options.intervalMs }, faults, t0, stop, options.log)
    const { recorder, tally } = yield* Fiber.join(clients)
    const ranMs = Date.now() - t0
    const failures = [...nemesis.failures]
    if (!barsMet()) {
      failures.push(`the nemesis injected ${faults.length} faults of ${new Set(faults.map((f) => f.kind)).size} kinds in ${ranMs} ms (bar: ${options.minFaults} of ${options.minKinds})`)
    }

    // Heal: every fault finishes (restarts included), nothing stays paused or down.
    yield* Effect.forEach(nemesis.healing, Fiber.join, { discard: true })
    for (const id of [...procs.paused]) procs.resume(id)
    if (procs.hostDown) yield* procs.startHost(procs.hostInfo.port)
    for (const id of [...procs.down]) yield* procs.startVoter(id)
    const healedAt = Date.now()

    // Convergence: every voter at the same applied index and digest, past every commit index seen.
    let finals: ReadonlyArray<VoterFinal> = []
    const converged = yield* Effect.gen(function*() {
      for (;;) {
        finals = yield* Effect.forEach(voters, (id) => Effect.orElseSucceed(procs.final(id), () => undefined as unknown as VoterFinal), { concurrency: "unbounded" })
        const ok = finals.every((f) => f !== undefined) && new Set(finals.map((f) => `${f.appliedIndex}/${f.digest}`)).size === 1 &&
          finals[0]!.appliedIndex >= Math.max(...finals.map((f) => f.commitIndex))
        if (ok) return true
        yield* Effect.sleep(Duration.millis(200))
      }
    }).pipe(Effect.timeoutTo({ duration: Duration.millis(options.convergeMs), onTimeout: () => false, onSuccess: (x) => x }))
    const convergedMs = Date.now() - healedAt
    if (!converged) failures.push(`the voters did not converge within ${options.convergeMs} ms: ${finals.map((f) => f === undefined ? "?" : `${f.id} applied ${f.appliedIndex} digest ${f.digest} commit ${f.commitIndex}`).join("; ")}`)

    for (const f of finals.filter((x) => x !== undefined)) {
      const counts = new Map<string, number>()
      for (const a of f.applied) {
        const key = a.slice(0, a.indexOf("@"))
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      const twice = [...counts].filter(([, n]) => n > 1)
      if (twice.length > 0) failures.push(`${f.id} applied ${twice.length} requests twice, e.g. ${twice[0]![0]}`)
      const missing = tally.acknowledged.filter((k) => !counts.has(k))
      if (missing.length > 0) failures.push(`${f.id} lacks ${missing.length} acknowledged writes, e.g. ${missing.slice(0, 3).join(", ")}`)
      if (f.undecodable > 0) failures.push(`${f.id} committed ${f.undecodable} entries that are no client's command`)
    }
    if (procs.unexpectedExits.length > 0) failures.push(`processes exited on their own: ${procs.unexpectedExits.join(", ")}`)

    const operations = recorder.operations()
    const checkStart = performance.now()
    const result = checkLinearizability(kvModel, operations)
    const checkMs = Math.round(performance.now() - checkStart)
    const verdict = result.result === "ok" ? "linearizable" : result.result === "violation" ? "not linearizable" : "undecided"
    const explanation = result.result === "violation" ? result.explanation : result.result === "unknown" ? result.reason : ""
    if (verdict !== "linearizable") failures.push(`history ${verdict}${explanation === "" ? "" : `: ${explanation}`}`)

    const unavailableMs: Record<string, number> = {}
    for (const f of faults) {
      const next = tally.okAt.find((t) => t >= f.at)
      const gap = (next ?? ranMs) - f.at
      unavailableMs[f.kind] = Math.max(unavailableMs[f.kind] ?? 0, gap)
    }

    const passed = failures.length === 0
    if (passed && !options.keep) rmSync(dataDir, { recursive: true, force: true })
    else {
      writeFileSync(join(dataDir, "history.json"), JSON.stringify(recorder.events(), null, 0))
      writeFileSync(join(dataDir, "faults.json"), JSON.stringify(faults, null, 1))
    }
    return {
      seed: options.seed,
      voters: options.voters,
      durationMs: options.durationMs,
      faults: faults,
      tally: { ok: tally.ok, failed: tally.failed, unknown: tally.unknown, retries: tally.retries },
      operations: operations.length,
      verdict,
      explanation,
      checkMs,
      convergedMs,
      unavailableMs,
      failures,
      dataDir,
      passed
    } satisfies RunResult
  }))
