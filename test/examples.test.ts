/**
 * The runnable examples keep working (the README quotes them). They run as real processes on the
 * real clock, with a bounded wait.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { resolve } from "node:path"

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
})
