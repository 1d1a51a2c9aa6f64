/**
 * `npm run mutate` (src/testing/mutate): every catalogued mutation's anchors still apply to the
 * sources as they are (a reshaped file shows up here, not as a silent "not caught"); a patch whose
 * anchor is gone or ambiguous is an error; two cheap mutations are caught by the simulator within
 * three seeds through the real command, beside a clean baseline seed, and the working tree is left
 * untouched; a seed past its step budget fails as `Budget`, naming the seed. The full table stays
 * behind `npm run mutate`.
 */
import { describe, expect, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { CATALOGUE } from "../../../src/testing/mutate/catalogue.js"
import { applyMutation, describePatchError } from "../../../src/testing/mutate/Mutation.js"
import type { Mutation } from "../../../src/testing/mutate/Mutation.js"
import { readRepoFile } from "../../../src/testing/mutate/scratch.js"
import { runSeed } from "../../../src/testing/sim/runSeed.js"
import { runProcess } from "../../support/proc.js"

const ROOT = fileURLToPath(new URL("../../..", import.meta.url))

const digest = (files: ReadonlyArray<string>): string => {
  const h = createHash("sha256")
  for (const f of files) h.update(f).update(readFileSync(`${ROOT}/${f}`))
  return h.digest("hex")
}

describe("mutation catalogue", () => {
  it("every mutation's anchors apply to the current sources and change them", () => {
    const problems: Array<string> = []
    for (const m of CATALOGUE) {
      const r = applyMutation(m, (f) => readRepoFile(ROOT, f))
      if (r._tag === "Failed") {
        problems.push(...r.errors.map((e) => `${m.id}: ${describePatchError(e)}`))
        continue
      }
      for (const [file, text] of r.files) if (text === readRepoFile(ROOT, file)) problems.push(`${m.id}: ${file} unchanged`)
    }
    expect(problems).toEqual([])
    expect(new Set(CATALOGUE.map((m) => m.id)).size).toBe(CATALOGUE.length)
    // The classes issue 13 names are all there.
    for (const id of ["figure8", "vote-before-durable", "append-before-durable", "prevote-leader-alive", "readindex-earlier-round", "deposed-leader-pending"]) {
      expect(CATALOGUE.map((m) => m.id)).toContain(id)
    }
  })

  it("a missing or ambiguous anchor, or a missing file, is an error naming it", () => {
    const m: Mutation = {
      id: "t",
      title: "t",
      source: "t",
      patches: [
        { file: "a.ts", anchor: "absent", replacement: "x" },
        { file: "a.ts", anchor: "twice", replacement: "x" },
        { file: "b.ts", anchor: "x", replacement: "y" }
      ]
    }
    const r = applyMutation(m, (f) => (f === "a.ts" ? "twice twice" : undefined))
    expect(r._tag).toBe("Failed")
    if (r._tag !== "Failed") return
    expect(r.errors.map((e) => `${e.file}:${e.reason}`)).toEqual(["a.ts:AnchorMissing", "a.ts:AnchorAmbiguous", "b.ts:FileMissing"])
    const ok = applyMutation({ ...m, patches: [{ file: "a.ts", anchor: "twice twice", replacement: "once" }] }, () => "twice twice")
    expect(ok._tag === "Patched" ? ok.files.get("a.ts") : undefined).toBe("once")
  })

  it("a seed over its step budget fails as Budget, naming the seed", () => {
    const r = runSeed({ seed: 7, operations: 50, maxSteps: 200 })
    expect(r.ok).toBe(false)
    expect(r.violations[0]?.invariant).toBe("Budget")
    expect(r.violations[0]?.detail).toContain("seed 7")
  })

  it("npm run mutate catches two cheap mutations within 3 seeds on a clean baseline, leaving the tree untouched", async () => {
    const touched = [...new Set(CATALOGUE.flatMap((m) => m.patches.map((p) => p.file)))]
    const before = digest(touched)
    const out = await runProcess(
      "npx",
      ["tsx", "src/testing/mutate/cli.ts", "--only", "append-before-durable,vote-not-persisted", "--seeds", "3", "--baseline", "1", "--ops", "60", "--json"],
      { cwd: ROOT, timeoutMs: 150_000 }
    )
    const rows = JSON.parse(out.stdout.trim().split("\n").pop()!) as Array<{ mutation: string; caught: string; firstFailingSeed?: number; by: string }>
    const row = (id: string) => rows.find((r) => r.mutation === id)
    expect(rows[0]?.caught, out.stdout).toBe("no") // the baseline seed passed
    for (const id of ["append-before-durable", "vote-not-persisted"]) {
      expect(row(id)?.caught, out.stdout).toBe("yes")
      expect(row(id)?.firstFailingSeed ?? 99).toBeLessThanOrEqual(3)
    }
    expect(row("append-before-durable")?.by).toBe("AppendDurableBeforeAck")
    expect(out.stdout).toContain("caught within 3 seeds")
    expect(digest(touched)).toBe(before)
  }, 160_000)
})
