/**
 * The clients of a nemesis run: concurrent logical clients in the controller, each with one
 * request outstanding, doing get / put / cas with unique values on a few keys. A request goes to a
 * random voter process (the node forwards a write to its leader, a read asks the leader for a read
 * fence); when an attempt fails (the process died, the answer did not come, leadership moved) the
 * client retries the SAME request id on another voter until the request's deadline, so the state
 * machine's session table applies it at most once. Every invocation and completion goes into one
 * `HistoryRecorder`: a write never answered is "unknown" (it may have applied), a read never
 * answered is dropped (it had no effect).
 */
import { Duration, Effect } from "effect"
import type { KvInput, KvOutput } from "../../src/testing/linearizability/KvModel.js"
import { HistoryRecorder } from "../../src/testing/linearizability/History.js"
import { between, pick, prng } from "./prng.js"
import type { Procs } from "./procs.js"
import type { KvCommand } from "./kv.js"

export interface ClientOptions {
  readonly clients: number
  readonly keys: number
  readonly seed: number
  /** One attempt's longest wait for a voter's answer. */
  readonly attemptMs: number
  /** A request's longest life, over all its attempts. */
  readonly requestMs: number
}

export interface ClientTally {
  readonly ok: number
  /** Reads that were never answered: dropped from the history (a read has no effect). */
  readonly failed: number
  /** Writes never answered: they may or may not have applied. */
  readonly unknown: number
  readonly retries: number
  /** Wall-clock ms (since the run's start) of every acknowledged write, for unavailability. */
  readonly okAt: Array<number>
  /** Acknowledged writes as `client:request` (each must be applied exactly once). */
  readonly acknowledged: Array<string>
}

/** Runs the clients until `stop` says so; returns the history and the tallies. */
export const runClients = (procs: Procs, options: ClientOptions, t0: number, stop: () => boolean) =>
  Effect.gen(function*() {
    const recorder = new HistoryRecorder<KvInput, KvOutput>()
    const tally = { ok: 0, failed: 0, unknown: 0, retries: 0, okAt: [] as Array<number>, acknowledged: [] as Array<string> }
    const keys = Array.from({ length: options.keys }, (_, i) => `k${i}`)

    const client = (n: number) =>
      Effect.gen(function*() {
        const c = `c${n}`
        const rand = prng(options.seed * 1_000 + n)
        const lastSeen = new Map<string, string | null>()
        let r = 0
        let v = 0
        while (!stop()) {
          const key = pick(rand, keys)
          const dice = rand()
          const op: KvInput = dice < 0.5
            ? { type: "get", key }
            : dice < 0.8
            ? { type: "put", key, value: `${c}-${++v}` }
            : { type: "cas", key, from: lastSeen.get(key) ?? null, to: `${c}-${++v}` }
          const command: KvCommand = { c, r: ++r, op }
          const id = recorder.invoke(c, op)
          const deadline = Date.now() + options.requestMs
          let out: KvOutput | undefined
          let attempts = 0
          while (out === undefined && Date.now() < deadline) {
            if (attempts++ > 0) {
              tally.retries++
              yield* Effect.sleep(Duration.millis(between(rand, 20, 120)))
            }
            const healthy = procs.healthy()
            const target = procs.voter(pick(rand, healthy.length > 0 ? healthy : procs.voters))
            if (target === undefined) continue
            const left = Math.max(1, Math.min(options.attemptMs, deadline - Date.now()))
            const answer = yield* Effect.either(target.request<KvOutput>("op", command, Duration.millis(left)))
            if (answer._tag === "Right") out = answer.right
          }
          if (out !== undefined) {
            recorder.complete(id, out)
            tally.ok++
            if (op.type !== "get") {
              tally.okAt.push(Date.now() - t0)
              tally.acknowledged.push(`${c}:${command.r}`)
            }
            if (out.type === "value") lastSeen.set(key, out.value)
            else if (op.type === "put") lastSeen.set(key, op.value)
            else if (op.type === "cas" && out.type === "cas" && out.ok) lastSeen.set(key, op.to)
          } else if (op.type === "get") {
            recorder.fail(id)
            tally.failed++
          } else {
            recorder.timeout(id)
            tally.unknown++
          }
        }
      })

    yield* Effect.forEach(Array.from({ length: options.clients }, (_, i) => i + 1), client, { concurrency: "unbounded", discard: true })
    return { recorder, tally }
  })
