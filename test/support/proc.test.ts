/**
 * The child-process and wait helpers the process and browser tests rely on: a failure must say
 * what ran and how it ended, a timeout must kill the whole process group (no orphan keeps a CI
 * machine busy), and a wait that gives up must show what it saw last.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join, relative, resolve } from "node:path"
import { ProcessFailed, runProcess, startProcess } from "./proc.js"
import { waitFor, waitForEffect } from "./waitFor.js"

const node = process.execPath
const cwd = process.cwd()

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("runProcess", () => {
  it("returns the output of a successful run", async () => {
    const r = await runProcess(node, ["-e", "console.log('out'); console.error('err')"], { cwd, timeoutMs: 30_000 })
    expect(r.stdout).toBe("out\n")
    expect(r.stderr).toBe("err\n")
  }, 40_000)

  it("fails on a non-zero exit with the command, the code and the end of both streams", async () => {
    const error = await runProcess(node, ["-e", "console.log('x'.repeat(10000) + 'END-OUT'); console.error('END-ERR'); process.exit(3)"], {
      cwd,
      timeoutMs: 30_000
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProcessFailed)
    const failed = error as ProcessFailed
    expect(failed.outcome).toEqual({ _tag: "Exited", code: 3 })
    expect(failed.message).toContain("exited with code 3")
    expect(failed.message).toContain(node)
    expect(failed.message).toContain("END-OUT")
    expect(failed.message).toContain("END-ERR")
    // Only the tail is quoted: the message stays readable.
    expect(failed.message.length).toBeLessThan(10_000)
  }, 40_000)

  it("kills the whole process group when the run outlives its bound", async () => {
    // The child starts a grandchild that would outlive it, prints its pid, and hangs.
    const script = "const { spawn } = require('node:child_process');" +
      "const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });" +
      "console.log(g.pid); setInterval(() => {}, 1000)"
    const error = (await runProcess(node, ["-e", script], { cwd, timeoutMs: 3_000 }).catch((e: unknown) => e)) as ProcessFailed
    expect(error.outcome).toEqual({ _tag: "TimedOut", timeoutMs: 3_000 })
    const grandchild = Number(error.stdout.trim())
    expect(grandchild).toBeGreaterThan(0)
    await waitFor(() => isAlive(grandchild), (alive) => !alive, { what: `grandchild ${grandchild} to be gone`, timeoutMs: 10_000 })
  }, 40_000)

  it("reports a command that cannot start", async () => {
    const error = (await runProcess("kuilt-no-such-command", [], { cwd, timeoutMs: 10_000 }).catch((e: unknown) => e)) as ProcessFailed
    expect(error.outcome._tag).toBe("SpawnFailed")
    expect(error.message).toContain("kuilt-no-such-command")
  }, 20_000)
})

describe("startProcess", () => {
  it("delivers lines as they come and ends with the signal it was killed by", async () => {
    const c = startProcess(node, ["-e", "let n = 0; setInterval(() => console.log('line ' + n++), 10)"], { cwd })
    try {
      await waitFor(() => c.lines.length, (n) => n >= 3, { what: "three lines", timeoutMs: 30_000 })
      expect(c.lines.slice(0, 3)).toEqual(["line 0", "line 1", "line 2"])
      c.kill("SIGKILL")
      expect((await c.exited).signal).toBe("SIGKILL")
    } finally {
      c.kill("SIGKILL")
    }
  }, 40_000)
})

describe("waitFor", () => {
  it("returns the observation that satisfied the predicate", async () => {
    let n = 0
    expect(await waitFor(() => ++n, (x) => x >= 3, { what: "three polls", timeoutMs: 5_000, intervalMs: 1 })).toBe(3)
  })

  it("gives up after its bound, quoting what it waited for and the last observation", async () => {
    let n = 0
    const error = await waitFor(() => ({ polls: ++n }), () => false, {
      what: "a condition that never holds",
      timeoutMs: 100,
      intervalMs: 10,
      show: (o) => `poll number ${o.polls}`
    }).then(() => new Error("resolved"), (e: unknown) => e as Error)
    expect(error.message).toMatch(/^timed out after \d+ ms \(bound 100 ms, \d+ polls\) waiting for a condition that never holds/)
    expect(error.message).toContain(`last observed: poll number ${n}`)
  })

  it("stops at once when abortIf gives a reason", async () => {
    const error = await waitFor(() => 1, () => false, { what: "x", timeoutMs: 60_000, abortIf: () => "the child exited" })
      .then(() => new Error("resolved"), (e: unknown) => e as Error)
    expect(error.message).toContain("gave up waiting for x: the child exited")
  })

  it.live("as an Effect, dies with the same message after its bound", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(waitForEffect(Effect.succeed(7), (x) => x > 7, { what: "more than 7", timeoutMs: 50, intervalMs: 5 }))
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("waiting for more than 7; last observed: 7")
    }))
})

describe("the test suite", () => {
  it("starts no synchronous child process (it would block its vitest worker)", () => {
    const testDir = resolve(import.meta.dirname, "..")
    const files = readdirSync(testDir, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => join(testDir, f))
    // Spelled in parts so this file does not match itself.
    const sync = new RegExp(`\\b(${["execFile", "exec", "spawn"].map((n) => `${n}Sync`).join("|")})\\b`)
    expect(sync.test(`import { ${"spawn"}Sync } from "node:child_process"`)).toBe(true)
    const offenders = files.flatMap((file) =>
      readFileSync(file, "utf8").split("\n").flatMap((line, i) => {
        const code = line.replace(/\/\/.*$/, "").replace(/^\s*\*.*$/, "")
        return sync.test(code) ? [`${relative(testDir, file)}:${i + 1}: ${line.trim()}`] : []
      })
    )
    expect(files.length).toBeGreaterThan(50)
    expect(offenders).toEqual([])
  })
})
