/**
 * Crash consistency with real processes: a child process runs three Raft voters on SQLite files
 * (`crash-child.ts`) and proposes as fast as it can; the test SIGKILLs it at seeded-random
 * moments during the writes, several rounds, restarting it on the same files each time. Then:
 * every file loads (checksums, contiguity, consistency), every acknowledged entry is in a
 * majority of the files at its index with its payload, and a final run commits a marker and
 * replays the committed log, which must hold every acknowledged entry where it was acknowledged.
 *
 * Real time, bounded waits: each wait has a deadline (sized below for what it waits for) and a
 * failure shows the child's acks, last lines and stderr.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import * as SqlRaftStorage from "../../../../../layers/raft/storage/sql/SqlRaftStorage.js"
import { type StartedProcess, startProcess, tail } from "../../../../support/proc.js"
import { waitFor } from "../../../../support/waitFor.js"

const root = resolve(import.meta.dirname, "../../../../..")
const child = resolve(import.meta.dirname, "crash-child.ts")
const ROUNDS = 5
const SEED = 20261122
/**
 * A round's first acks: the child's start (tsx compiles the sources: 1–2 s idle, several times
 * that on busy cores), an election among three in-process voters, then up to 400 commits.
 */
const ROUND_ACKS_MS = 60_000
/** The verification run: the same start, an election, one commit and a replay of the log. */
const VERIFY_MS = 60_000
/** A SIGKILLed child is gone at once; its pipes drain in milliseconds. */
const EXIT_MS = 10_000

/** mulberry32: a seeded PRNG, so the kill moments are the same on every run. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * One child run. A child starts with tsx compiling the voters' sources (a few seconds of CPU),
 * then elects and commits; on a busy 2-core machine that start is the slow part.
 */
const start = (mode: "run" | "verify", dir: string, tag: string): StartedProcess =>
  startProcess(process.execPath, ["--import", "tsx", child, mode, dir, tag], { cwd: root })

/** The child's state for failure messages: acks so far, its last lines, the end of its stderr. */
const showChild = (c: StartedProcess) => () =>
  `${acksOf(c.lines).length} acks; last lines ${JSON.stringify(c.lines.slice(-3))}; stderr: ${tail(c.stderr(), 2048) || "(empty)"}`

/** Waits until `predicate` holds for the child's output; gives up at once if the child exits. */
const waitForChild = (c: StartedProcess, predicate: () => boolean, timeoutMs: number, what: string) =>
  waitFor(() => undefined, predicate, {
    what,
    timeoutMs,
    show: showChild(c),
    abortIf: () => {
      const e = c.exit()
      return e === undefined ? undefined : `the child exited (${JSON.stringify(e)})`
    }
  })

/** Waits (bounded) for the child to exit and returns how. */
const awaitExit = async (c: StartedProcess, timeoutMs: number, what: string) =>
  (await waitFor(() => c.exit(), (e) => e !== undefined, { what, timeoutMs, show: () => showChild(c)() }))!

const acksOf = (lines: ReadonlyArray<string>) =>
  lines.filter((l) => l.startsWith("ack ")).map((l) => {
    const [, index, payload] = l.split(" ")
    return { index: Number(index), payload: payload! }
  })

/** Loads each file with the storage itself (fails on damage) and maps index → payload per file. */
const loadFiles = (dir: string) =>
  Effect.runPromise(Effect.forEach(["n1", "n2", "n3"], (id) =>
    Effect.scoped(Effect.gen(function*() {
      const storage = yield* SqlRaftStorage.makeSqlite({ filename: join(dir, `${id}.sqlite`) })
      const state = yield* storage.load
      const log = new Map<number, string>()
      for (const e of state.entries) if (e._tag === "Command") log.set(e.index, new TextDecoder().decode(e.command))
      return log
    }))))

describe("crash consistency (real processes, SIGKILL)", () => {
  it("every acknowledged entry survives repeated SIGKILLs during heavy writes, and the logs stay valid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kuilt-crash-"))
    const random = prng(SEED)
    const acked: Array<{ index: number; payload: string }> = []
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const c = start("run", dir, `r${round}`)
        try {
          // Kill somewhere between the 1st and ~the 400th acknowledgement of the round.
          const minAcks = 1 + Math.floor(random() * 400)
          await waitForChild(c, () => acksOf(c.lines).length >= minAcks, ROUND_ACKS_MS, `${minAcks} acks in round ${round}`)
          c.kill("SIGKILL")
          const exit = await awaitExit(c, EXIT_MS, "the killed child to exit")
          expect(exit.signal).toBe("SIGKILL")
        } finally {
          c.kill("SIGKILL")
        }
        const round_acks = acksOf(c.lines)
        expect(round_acks.length).toBeGreaterThan(0)
        acked.push(...round_acks)

        // Between rounds: each file loads, and each ack is in a majority of the files.
        const logs = await loadFiles(dir)
        for (const a of acked) {
          const holders = logs.filter((log) => log.get(a.index) === a.payload).length
          expect(holders, `entry ${a.index} (${a.payload}) acknowledged but held by ${holders} of 3 files`).toBeGreaterThanOrEqual(2)
        }
      }

      // Acknowledged indices are unique: no index was acknowledged twice with different content.
      const byIndex = new Map<number, string>()
      for (const a of acked) {
        expect(byIndex.get(a.index) ?? a.payload).toBe(a.payload)
        byIndex.set(a.index, a.payload)
      }

      // A final clean run replays the committed log: every acknowledged entry is in it, in place.
      const v = start("verify", dir, "verify-marker")
      try {
        await waitForChild(v, () => v.lines.includes("done"), VERIFY_MS, "the verification run")
        const exit = await awaitExit(v, EXIT_MS, "the verification run to exit")
        expect(exit.code).toBe(0)
      } finally {
        v.kill("SIGKILL")
      }
      const committed = new Map<number, string>()
      for (const l of v.lines.filter((x) => x.startsWith("entry "))) {
        const [, index, payload] = l.split(" ")
        committed.set(Number(index), payload!)
      }
      for (const a of acked) expect(committed.get(a.index), `acknowledged entry ${a.index}`).toBe(a.payload)
      expect(acked.length).toBeGreaterThan(ROUNDS)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    // ~30 s on an idle 2-core machine. The bound is the sum of the waits inside (each bounded
    // and reporting what it saw), so an inner wait always speaks first.
  }, ROUNDS * (ROUND_ACKS_MS + EXIT_MS) + VERIFY_MS + EXIT_MS + 30_000)
})
