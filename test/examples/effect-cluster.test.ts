/**
 * examples/effect-cluster with real processes: a relay and three @effect/cluster runners, each a
 * voter of the Raft group that holds the runner registrations and shard locks
 * (`RaftRunnerStorage`, SQLite files). Every runner asks the `Greeter` entities e0..e11 where they
 * live, twice a second, and prints the round. Once every entity answers from all three runners,
 * the test SIGKILLs one runner: its shard locks are never released, so they must expire on the
 * table's clock before the survivors may take them. Then every entity must answer again, from the
 * survivors only, seen by both of them.
 *
 * Real clock, bounded waits (sized below); a failure shows each process's last rounds and stderr.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { type StartedProcess, startProcess, tail } from "../support/proc.js"
import { waitFor } from "../support/waitFor.js"

const root = resolve(import.meta.dirname, "..", "..")
const example = (file: string) => join(root, "examples", "effect-cluster", file)
const ENTITIES = Array.from({ length: 12 }, (_, k) => `e${k}`)
const RUNNERS = ["n1", "n2", "n3"] as const

/**
 * From the start to every entity answering: four processes compile the sources with tsx at once
 * (a few seconds of CPU each, several times that on busy cores), the Raft group elects, the
 * runners register and take their shards. About 25 s on an idle 2-core machine.
 */
const START_MS = 180_000
/**
 * From the kill to every entity answering from the survivors: the dead runner's locks expire 4 s of
 * table time after its last refresh, the survivors' health check (every second) and assignment
 * refresh (every 500 ms) notice it, then acquire. About 7 s idle.
 */
const MOVE_MS = 90_000

interface Round {
  readonly round: number
  readonly by: string
  readonly at: number
  readonly answers: Readonly<Record<string, string>>
  readonly failed: ReadonlyArray<string>
}

const roundsOf = (p: StartedProcess): ReadonlyArray<Round> =>
  p.lines.filter((l) => l.startsWith("{\"round\"")).map((l) => JSON.parse(l) as Round)

const complete = (r: Round | undefined): r is Round => r !== undefined && r.failed.length === 0 && ENTITIES.every((e) => r.answers[e] !== undefined)

const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = createServer()
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? done(address.port) : fail(new Error("no port"))))
    })
  })

const tsx = (file: string, args: ReadonlyArray<string>) =>
  startProcess(process.execPath, ["--import", "tsx", file, ...args], { cwd: root })

const show = (processes: ReadonlyArray<readonly [string, StartedProcess]>) => () =>
  processes.map(([name, p]) =>
    `\n--- ${name} (${p.exit() === undefined ? "running" : `exited ${JSON.stringify(p.exit())}`}) ---\n` +
    `${p.lines.slice(-3).join("\n")}\nstderr: ${tail(p.stderr(), 1500) || "(empty)"}`
  ).join("")

describe("examples/effect-cluster", () => {
  it("three runner processes serve every entity; SIGKILL one and its shards move to the others, which answer for every entity", async () => {
    const data = mkdtempSync(join(tmpdir(), "kuilt-effect-cluster-"))
    const started: Array<readonly [string, StartedProcess]> = []
    try {
      const relay = tsx(example("relay.ts"), ["0"])
      started.push(["relay", relay])
      const exited = (p: StartedProcess) => () => (p.exit() === undefined ? undefined : `${p.command} exited`)
      const url = await waitFor(() => relay.lines.find((l) => l.startsWith("relay "))?.slice("relay ".length), (u) => u !== undefined, {
        what: "the relay to listen",
        timeoutMs: START_MS,
        abortIf: exited(relay),
        show: show(started)
      })
      const runners = new Map<string, StartedProcess>()
      for (const id of RUNNERS) {
        const p = tsx(example("runner.ts"), ["--id", id, "--port", String(await freePort()), "--relay", url!, "--data", data])
        runners.set(id, p)
        started.push([id, p])
      }
      const anyExited = () => started.map(([, p]) => exited(p)()).find((r) => r !== undefined)

      // Every entity answers, and the three runners share the shards.
      const before = await waitFor(() => roundsOf(runners.get("n1")!).at(-1), (r) => complete(r) && new Set(Object.values(r.answers)).size === 3, {
        what: "a round in which every entity answers, from all three runners",
        timeoutMs: START_MS,
        abortIf: anyExited,
        show: show(started)
      })
      // The victim: the runner (other than the observer n1) serving the most entities.
      const servedBy = (id: string) => ENTITIES.filter((e) => before!.answers[e] === id)
      const victim = ["n2", "n3"].sort((a, b) => servedBy(b).length - servedBy(a).length)[0]!
      const moved = servedBy(victim)
      expect(moved.length).toBeGreaterThan(0)

      const killedAt = Date.now()
      runners.get(victim)!.kill("SIGKILL")
      await runners.get(victim)!.exited
      const survivors = RUNNERS.filter((id) => id !== victim)

      // Every entity answers again, none from the victim, as seen by each survivor.
      const after = new Map<string, Round>()
      for (const id of survivors) {
        const round = await waitFor(
          () => roundsOf(runners.get(id)!).find((r) => r.at > killedAt && complete(r) && !Object.values(r.answers).includes(victim)),
          (r) => r !== undefined,
          {
            what: `${id} to see every entity answer from the survivors after ${victim} was killed`,
            timeoutMs: MOVE_MS,
            abortIf: () => survivors.map((s) => exited(runners.get(s)!)()).find((r) => r !== undefined),
            show: show(started)
          }
        )
        after.set(id, round!)
      }
      for (const [id, round] of after) {
        for (const entity of moved) expect(survivors, `${entity} as seen by ${id}`).toContain(round.answers[entity])
      }
      // For the report: how long the entities of the killed runner went unanswered.
      const movedInMs = Math.min(...[...after.values()].map((r) => r.at)) - killedAt
      console.log(JSON.stringify({ victim, moved, movedInMs, after: Object.fromEntries([...after].map(([id, r]) => [id, r.answers])) }))
    } finally {
      for (const [, p] of started) p.kill("SIGKILL")
      await Promise.all(started.map(([, p]) => p.exited))
      rmSync(data, { recursive: true, force: true })
    }
  }, START_MS * 2 + MOVE_MS * 2 + 30_000)
})
