/**
 * Crash consistency with real processes: a child process runs three Raft voters on SQLite files
 * (`crash-child.ts`) and proposes as fast as it can; the test SIGKILLs it at seeded-random
 * moments during the writes, several rounds, restarting it on the same files each time. Then:
 * every file loads (checksums, contiguity, consistency), every acknowledged entry is in a
 * majority of the files at its index with its payload, and a final run commits a marker and
 * replays the committed log, which must hold every acknowledged entry where it was acknowledged.
 *
 * Real time, bounded waits: each wait has a deadline and a failure shows the child's stderr.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import * as SqlRaftStorage from "../../../../../layers/raft/storage/sql/SqlRaftStorage.js"

const root = resolve(import.meta.dirname, "../../../../..")
const child = resolve(import.meta.dirname, "crash-child.ts")
const ROUNDS = 5
const SEED = 20261122

/** mulberry32: a seeded PRNG, so the kill moments are the same on every run. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Child {
  readonly proc: ChildProcess
  readonly lines: Array<string>
  stderr: string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const start = (mode: "run" | "verify", dir: string, tag: string): Child => {
  const proc = spawn(process.execPath, ["--import", "tsx", child, mode, dir, tag], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  const c: Child = {
    proc,
    lines: [],
    stderr: "",
    // "close", not "exit": it fires once stdout and stderr are drained, so no line arrives after it.
    exited: new Promise((done) => proc.on("close", (code, signal) => done({ code, signal })))
  }
  let partial = ""
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n")
    partial = parts.pop()!
    c.lines.push(...parts)
  })
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (c.stderr += chunk))
  return c
}

/** Resolves when `predicate` holds, polling every 5 ms; rejects after `ms` or if the child exits. */
const waitFor = async (c: Child, predicate: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms
  let exited: unknown = undefined
  void c.exited.then((e) => (exited = e))
  while (!predicate()) {
    if (exited !== undefined) {
      throw new Error(
        `the child exited (${JSON.stringify(exited)}) while waiting for ${what}; last lines: ${
          JSON.stringify(c.lines.slice(-3))
        }; stderr:\n${c.stderr}`
      )
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; stderr:\n${c.stderr}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

const withTimeout = <A>(p: Promise<A>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`timed out: ${what}`)), ms))])

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
          await waitFor(c, () => acksOf(c.lines).length >= minAcks, 20_000, `${minAcks} acks in round ${round}`)
          c.proc.kill("SIGKILL")
          const exit = await withTimeout(c.exited, 10_000, "the killed child to exit")
          expect(exit.signal).toBe("SIGKILL")
        } finally {
          c.proc.kill("SIGKILL")
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
        await waitFor(v, () => v.lines.includes("done"), 30_000, "the verification run")
        const exit = await withTimeout(v.exited, 10_000, "the verification run to exit")
        expect(exit.code).toBe(0)
      } finally {
        v.proc.kill("SIGKILL")
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
    // ~30 s on an idle 2-core machine; the bound leaves room for a loaded one (every wait inside
    // is bounded too, so a failure never hangs).
  }, 150_000)
})
