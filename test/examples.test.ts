/**
 * The runnable examples keep working (the README quotes them). They run as real processes on the
 * real clock, with a bounded wait.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const tsx = resolve(root, "node_modules", ".bin", "tsx")

describe("examples", () => {
  it("examples/main.ts (npm start) elects, forwards, reads, survives a leader crash", () => {
    const out = execFileSync(tsx, ["examples/main.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 })
    expect(out).toMatch(/leader elected: n\d \(term 1\)/)
    expect(out).toMatch(/proposed, committed at index 2/)
    expect(out).toMatch(/read fence at index \d+/)
    expect(out).toMatch(/new leader: n\d/)
    const applied = out.split("\n").filter((l) => l.includes("applied:"))
    expect(applied.length).toBe(2)
    for (const line of applied) {
      expect(line).toContain('["hello from a follower","hello from the leader","life goes on"]')
    }
  }, 90_000)

  it("examples/tictactoe.ts (npm run example:tictactoe) plays a game both peers agree on", () => {
    const out = execFileSync(tsx, ["examples/tictactoe.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 })
    expect(out).toContain("alice hosts, bob joined; voters: alice, bob")
    expect(out).toMatch(/bob plays O at 1 -> #\d+ O@1 refused: it is X's turn/)
    expect(out).toMatch(/alice plays X at 0 -> #\d+ X@0 refused: cell taken/)
    expect(out).toContain("winner: X")
    expect(out).toContain("alice and bob hold the same board: true")
  }, 90_000)

  it("examples/turn-game.ts (npm run example:turn-game) seats four players, chats, and agrees on the race", () => {
    const out = execFileSync(tsx, ["examples/turn-game.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 })
    expect(out).toContain("seated one at a time: alice, bob, carol, dave")
    expect(out).toMatch(/\[chat\] (bob|carol|dave): /)
    expect(out).toMatch(/after the end -> ignored/)
    expect(out).toMatch(/winner: (alice|bob|carol|dave); scores: /)
    expect(out).toContain("all four players hold the same race: true")
  }, 90_000)

  it("examples/durable-kv.ts keeps its data across a restart (second run sees the first run's keys)", () => {
    const dir = mkdtempSync(join(tmpdir(), "kuilt-example-kv-"))
    try {
      const run = (...args: Array<string>) =>
        execFileSync(tsx, ["examples/durable-kv.ts", "--db", join(dir, "kv.sqlite"), ...args], {
          cwd: root,
          encoding: "utf8",
          timeout: 60_000
        })
      const first = run("color=blue")
      expect(first).toContain("restored 0 keys")
      expect(first).toContain('run 1: {"runs":"1","color":"blue"}')
      const second = run("size=large")
      expect(second).toContain('restored 2 keys from')
      expect(second).toContain('{"runs":"1","color":"blue"}')
      expect(second).toContain('run 2: {"runs":"2","color":"blue","size":"large"}')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
