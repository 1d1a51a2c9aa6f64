/**
 * The runnable examples keep working (the README quotes them). They run as real processes on the
 * real clock, asynchronously (the worker stays responsive), each bounded by `EXAMPLE_MS`; a failure
 * quotes the example's output.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { runProcess } from "./support/proc.js"

const root = resolve(import.meta.dirname, "..")
const tsx = resolve(root, "node_modules", ".bin", "tsx")

/**
 * One example run: tsx compiles it (a few seconds of CPU), then a few elections and commits on
 * the real clock. 4–6 s on a 2-core machine, about 10 s at a load average of 15; the bound allows
 * for a machine busier still.
 */
const EXAMPLE_MS = 90_000
/** The vitest bound: the example's bound plus the worker's own slack. */
const TEST_MS = EXAMPLE_MS + 15_000

const example = async (...args: Array<string>) => (await runProcess(tsx, args, { cwd: root, timeoutMs: EXAMPLE_MS })).stdout

describe("examples", () => {
  it("examples/main.ts (npm start) elects, forwards, reads, survives a leader crash", async () => {
    const out = await example("examples/main.ts")
    expect(out).toMatch(/leader elected: n\d \(term 1\)/)
    expect(out).toMatch(/proposed, committed at index 2/)
    expect(out).toMatch(/read fence at index \d+/)
    expect(out).toMatch(/new leader: n\d/)
    const applied = out.split("\n").filter((l) => l.includes("applied:"))
    expect(applied.length).toBe(2)
    for (const line of applied) {
      expect(line).toContain('["hello from a follower","hello from the leader","life goes on"]')
    }
  }, TEST_MS)

  it("examples/tictactoe.ts (npm run example:tictactoe) plays a game both peers agree on", async () => {
    const out = await example("examples/tictactoe.ts")
    expect(out).toContain("alice hosts, bob joined; voters: alice, bob")
    expect(out).toMatch(/bob plays O at 1 -> #\d+ O@1 refused: it is X's turn/)
    expect(out).toMatch(/alice plays X at 0 -> #\d+ X@0 refused: cell taken/)
    expect(out).toContain("winner: X")
    expect(out).toContain("alice and bob hold the same board: true")
  }, TEST_MS)

  it("examples/turn-game.ts (npm run example:turn-game) seats four players, chats, and agrees on the race", async () => {
    const out = await example("examples/turn-game.ts")
    expect(out).toContain("seated one at a time: alice, bob, carol, dave")
    expect(out).toMatch(/\[chat\] (bob|carol|dave): /)
    expect(out).toMatch(/after the end -> ignored/)
    expect(out).toMatch(/winner: (alice|bob|carol|dave); scores: /)
    expect(out).toContain("all four players hold the same race: true")
  }, TEST_MS)

  it("examples/durable-kv.ts keeps its data across a restart (second run sees the first run's keys)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kuilt-example-kv-"))
    try {
      const run = (...args: Array<string>) => example("examples/durable-kv.ts", "--db", join(dir, "kv.sqlite"), ...args)
      const first = await run("color=blue")
      expect(first).toContain("restored 0 keys")
      expect(first).toContain('run 1: {"runs":"1","color":"blue"}')
      const second = await run("size=large")
      expect(second).toContain('restored 2 keys from')
      expect(second).toContain('{"runs":"1","color":"blue"}')
      expect(second).toContain('run 2: {"runs":"2","color":"blue","size":"large"}')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 2 * EXAMPLE_MS + 15_000)
})
