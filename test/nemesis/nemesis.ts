/**
 * The nemesis: a seeded schedule of real faults against the processes of a run, logged as it
 * goes. Kinds:
 * - `kill-voter`: SIGKILL a random voter, restart it on its SQLite file after a short pause;
 * - `kill-leader`: the same for the current leader;
 * - `pause`: SIGSTOP a voter for up to two seconds, then SIGCONT (a GC pause, a stalled VM);
 * - `host-restart`: SIGKILL the WebSocket host, restart it on the same port (every voter rejoins);
 * - `transfer`: ask the leader to hand leadership to another voter (§3.10);
 * - `adversary`: garbage bytes, non-member Raft frames and a claimed voter id (`garbage.ts`).
 * A majority of voters stays healthy (neither down nor paused), so the cluster can make progress
 * once the host is back; the kinds come from a seeded shuffled deck so that every run mixes all of
 * them, and while nothing left in the deck fits (a voter is still restarting) any kind that fits.
 */
import { Duration, Effect, Fiber } from "effect"
import { adversarialClients } from "./garbage.js"
import { between, pick, prng } from "./prng.js"
import type { Procs } from "./procs.js"

export const FAULT_KINDS = ["kill-voter", "kill-leader", "pause", "host-restart", "transfer", "adversary"] as const
export type FaultKind = typeof FAULT_KINDS[number]

export interface Fault {
  readonly kind: FaultKind
  /** Ms since the run's start. */
  readonly at: number
  readonly target: string
  /** What it did or saw (a restart's duration, a transfer's failure, …). */
  detail: string
  /** Ms until it healed (restart ready, SIGCONT, transfer answered). */
  healedAfter: number
}

export interface NemesisOptions {
  readonly seed: number
  /** Mean ms between fault starts. */
  readonly intervalMs: number
}

const shuffled = <A>(rand: () => number, xs: ReadonlyArray<A>): Array<A> => {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** Runs until `stop`; every fault is appended to `faults` as it starts (the caller watches it). */
export const runNemesis = (procs: Procs, options: NemesisOptions, faults: Array<Fault>, t0: number, stop: () => boolean, log: (line: string) => void) =>
  Effect.gen(function*() {
    const rand = prng(options.seed)
    const failures: Array<string> = []
    const healing: Array<Fiber.RuntimeFiber<void>> = []
    let deck: Array<FaultKind> = []
    const now = () => Date.now() - t0
    const record = (kind: FaultKind, target: string): Fault => {
      const f: Fault = { kind, at: now(), target, detail: "", healedAfter: 0 }
      faults.push(f)
      log(`fault ${faults.length} +${f.at}ms ${kind} ${target}`)
      return f
    }
    const heal = (f: Fault, effect: Effect.Effect<string, unknown>) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.gen(function*() {
          const detail = yield* Effect.catchAll(effect, (e) => Effect.succeed(`failed: ${String(e)}`))
          f.detail = detail
          f.healedAfter = now() - f.at
          if (detail.startsWith("failed")) failures.push(`${f.kind} ${f.target}: ${detail}`)
        }))
        healing.push(fiber)
      })

    const restartAfter = (f: Fault, id: string, ms: number) =>
      heal(f, Effect.gen(function*() {
        yield* Effect.sleep(Duration.millis(ms))
        const t = Date.now()
        yield* procs.startVoter(id)
        return `down ${ms} ms, restart took ${Date.now() - t} ms`
      }))

    // A majority stays healthy: with 3 voters one may be down or paused at a time, with 5 two.
    const maxImpaired = Math.floor((procs.voters.length - 1) / 2)
    // While the host is down only process faults make sense (a crash during the outage is real;
    // a transfer or a stranger's frames cannot even reach the room).
    const allowed = (kind: FaultKind): boolean => {
      switch (kind) {
        case "kill-voter":
        case "pause":
          return procs.impaired() < maxImpaired
        case "kill-leader":
          return procs.impaired() < maxImpaired && !procs.hostDown
        case "host-restart":
        case "transfer":
        case "adversary":
          return !procs.hostDown
      }
    }

    while (!stop()) {
      yield* Effect.sleep(Duration.millis(between(rand, Math.round(options.intervalMs / 2), Math.round(options.intervalMs * 1.5))))
      if (stop()) break
      if (deck.length === 0) deck = shuffled(rand, FAULT_KINDS)
      const i = deck.findIndex(allowed)
      // Nothing left in the deck fits now (a voter is still restarting): any kind that fits.
      const fits = FAULT_KINDS.filter(allowed)
      if (i < 0 && fits.length === 0) continue
      const kind = i >= 0 ? deck.splice(i, 1)[0]! : pick(rand, fits)
      switch (kind) {
        case "kill-voter": {
          const id = pick(rand, procs.healthy())
          const f = record(kind, id)
          procs.killVoter(id)
          yield* restartAfter(f, id, between(rand, 100, 1_000))
          break
        }
        case "kill-leader": {
          const leader = yield* procs.leader()
          if (leader === undefined) {
            deck.push(kind) // no agreed leader right now: try again later
            break
          }
          const f = record(kind, leader)
          procs.killVoter(leader)
          yield* restartAfter(f, leader, between(rand, 100, 1_000))
          break
        }
        case "pause": {
          const id = pick(rand, procs.healthy())
          const f = record(kind, id)
          const ms = between(rand, 300, 2_000)
          procs.pause(id)
          yield* heal(f, Effect.gen(function*() {
            yield* Effect.sleep(Duration.millis(ms))
            procs.resume(id)
            return `stopped ${ms} ms`
          }))
          break
        }
        case "host-restart": {
          const f = record(kind, "host")
          const port = procs.hostInfo.port
          procs.killHost()
          const ms = between(rand, 100, 800)
          yield* heal(f, Effect.gen(function*() {
            yield* procs.awaitHostExit()
            yield* Effect.sleep(Duration.millis(ms))
            const t = Date.now()
            yield* procs.startHost(port)
            return `down ${ms} ms, restart took ${Date.now() - t} ms`
          }))
          break
        }
        case "transfer": {
          const leader = yield* procs.leader()
          const others = procs.healthy().filter((id) => id !== leader)
          const child = leader === undefined ? undefined : procs.voter(leader)
          if (child === undefined || others.length === 0) {
            deck.push(kind)
            break
          }
          const to = pick(rand, others)
          const f = record(kind, `${leader}->${to}`)
          // A transfer may fail (TimedOut, a concurrent election): that is its outcome, not the run's.
          yield* heal(f, child.request("transfer", { to }, Duration.seconds(5)).pipe(
            Effect.as("transferred"),
            Effect.catchAll((e) => Effect.succeed(`refused or timed out (${e.reason.split("\n")[0]!.slice(0, 80)})`))
          ))
          break
        }
        case "adversary": {
          const f = record(kind, "room")
          const n = faults.length
          yield* heal(f, Effect.map(adversarialClients(procs.hostInfo.url, procs.options.secret, procs.voters, n, prng(options.seed + n * 7919)), (o) => {
            if (o.claimedIdAdmitted) failures.push(`adversary ${n}: a stranger was admitted as ${procs.voters[0]}`)
            return `raw ${o.rawBytesSent} B, ${o.framesToVoters} frames to voters, impostor ${o.claimedIdAdmitted ? "ADMITTED" : "refused"}`
          }))
          break
        }
      }
    }
    return { failures, healing }
  })
