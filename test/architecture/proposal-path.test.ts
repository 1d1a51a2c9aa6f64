/**
 * The path of a proposal in docs/ARCHITECTURE.md names files that exist, so the table cannot drift
 * from the code unnoticed (an earlier version named modules that had been split away), and its
 * core part stays within 12 files of `src/raft/core`. A bare name in a row is looked up beside the
 * last full path in that row, else among the library's sources (one match).
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
const doc = readFileSync(join(root, "docs/ARCHITECTURE.md"), "utf8")

const sourceDirs = ["services", "src/raft", "src/codec", "src/seam", "src/internal", "layers"]
const allSources = (dir: string): Array<string> =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allSources(`${dir}/${e.name}`) : e.name.endsWith(".ts") ? [`${dir}/${e.name}`] : []
  )
const sources = sourceDirs.flatMap(allSources)

/** The rows of the proposal-path table, each as the `….ts` names it quotes. */
const pathRows = (): Array<Array<string>> => {
  const start = doc.indexOf("## The path of a proposal")
  const end = doc.indexOf("\n## ", start + 1)
  const section = doc.slice(start, end === -1 ? undefined : end)
  return section.split("\n").filter((l) => /^\| \d+ \|/.test(l)).map((l) => [...l.matchAll(/`([\w/.]+\.ts)`/g)].map((m) => m[1]!))
}

const resolveRow = (names: ReadonlyArray<string>): Array<string | { readonly missing: string }> => {
  let dir: string | undefined
  return names.map((name) => {
    if (name.includes("/")) {
      dir = dirname(name)
      return existsSync(join(root, name)) ? name : { missing: name }
    }
    if (dir !== undefined && existsSync(join(root, dir, name))) return `${dir}/${name}`
    const found = sources.filter((f) => basename(f) === name)
    return found.length === 1 ? found[0]! : { missing: `${name} (${found.length} matches)` }
  })
}

describe("the path of a proposal (docs/ARCHITECTURE.md)", () => {
  const rows = pathRows().map(resolveRow)
  const files = new Set(rows.flat().filter((f): f is string => typeof f === "string"))

  it("names only files that exist", () => {
    expect(rows.length).toBeGreaterThanOrEqual(10)
    expect(rows.flat().filter((f) => typeof f !== "string")).toEqual([])
  })

  it("crosses at most 12 files of the core, from propose to the committed stream", () => {
    const core = [...files].filter((f) => f.startsWith("src/raft/core/"))
    expect(core.length).toBeGreaterThan(0)
    expect(core.length, core.join(", ")).toBeLessThanOrEqual(12)
    expect(files.has("src/raft/RaftNode.ts")).toBe(true)
  })
})
