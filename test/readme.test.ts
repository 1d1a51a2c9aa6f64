/**
 * The README's TypeScript compiles. Every ```ts block of README.md is written to a file of its own
 * and type-checked by `tsc` under the repository's own tsconfig (strict, noUnusedLocals, ...), with
 * the package's public entry points (`kuilt`, `kuilt/node`, `kuilt/browser`, `kuilt/testing`)
 * mapped to their sources, so a snippet that only compiles against internals fails too.
 *
 * A block that is deliberately a fragment (statements that live inside an `Effect.gen`, an
 * interface sketch) says so in its fence: ```ts fragment. It is counted and listed, not checked.
 * The quick start must never be a fragment.
 *
 * One `tsc` run, as a child process (asynchronous: the worker stays responsive), also checks a
 * canary block with a known error, so a checker that silently checks nothing fails here.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, relative, resolve } from "node:path"
import { ProcessFailed, runProcess } from "./support/proc.js"

const root = resolve(import.meta.dirname, "..")
const tsc = resolve(root, "node_modules", ".bin", "tsc")

/** The public entry points, as a consumer imports them, and the sources behind them. */
const ENTRY_POINTS: Readonly<Record<string, string>> = {
  "kuilt": "src/index.ts",
  "kuilt/node": "src/node.ts",
  "kuilt/browser": "src/browser.ts",
  "kuilt/testing": "src/testing.ts"
}

/**
 * One `tsc` program over the README blocks and the sources they import: about 15 s on an idle
 * 2-core machine; the bound allows for both cores being busy.
 */
const TSC_MS = 150_000

interface Block {
  /** 1-based line of the opening fence in the markdown. */
  readonly fenceLine: number
  /** The heading the block sits under. */
  readonly section: string
  readonly fragment: boolean
  readonly code: string
}

/** The ```ts blocks of a markdown text, in order. */
const tsBlocks = (markdown: string): ReadonlyArray<Block> => {
  const lines = markdown.split("\n")
  const blocks: Array<Block> = []
  let section = "(top)"
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const heading = /^#{1,6}\s+(.*)$/.exec(line)
    if (heading !== null) {
      section = heading[1]!.trim()
      continue
    }
    const fence = /^(`{3,})\s*(\S*)\s*(.*)$/.exec(line)
    if (fence === null) continue
    const [, ticks, lang, info] = fence
    const close = lines.findIndex((l, j) => j > i && l.startsWith(ticks!) && l.trim() === ticks)
    const end = close === -1 ? lines.length : close
    if (lang === "ts" || lang === "typescript") {
      blocks.push({
        fenceLine: i + 1,
        section,
        fragment: info!.split(/\s+/).includes("fragment"),
        code: lines.slice(i + 1, end).join("\n")
      })
    }
    i = end
  }
  return blocks
}

interface Diagnostic {
  readonly file: string
  readonly line: number
  readonly column: number
  readonly text: string
}

/** `file(line,col): error TSnnnn: text` lines of `tsc --pretty false`. */
const parseDiagnostics = (output: string): ReadonlyArray<Diagnostic> =>
  output.split("\n").flatMap((l) => {
    const m = /^(.+?)\((\d+),(\d+)\): (error TS\d+: .*)$/.exec(l.trim())
    return m === null ? [] : [{ file: m[1]!, line: Number(m[2]), column: Number(m[3]), text: m[4]! }]
  })

/** Type-checks `files` (name → code) in one program under the repo's tsconfig; returns tsc's diagnostics. */
const typeCheck = async (files: Readonly<Record<string, string>>): Promise<{ diagnostics: ReadonlyArray<Diagnostic>; output: string }> => {
  // Inside the repository, so `effect` and the other packages resolve from its node_modules.
  const dir = mkdtempSync(join(root, ".readme-check-"))
  try {
    for (const [name, code] of Object.entries(files)) writeFileSync(join(dir, name), code)
    const up = relative(dir, root)
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: join(up, "tsconfig.json"),
        compilerOptions: {
          noEmit: true,
          paths: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([spec, src]) => [spec, [join(up, src)]]))
        },
        include: Object.keys(files)
      })
    )
    try {
      const r = await runProcess(tsc, ["-p", join(dir, "tsconfig.json"), "--pretty", "false"], { cwd: dir, timeoutMs: TSC_MS })
      return { diagnostics: [], output: r.stdout }
    } catch (e) {
      // tsc exits non-zero when it reports errors; anything else (a timeout, a crash) is a failure.
      if (!(e instanceof ProcessFailed) || e.outcome._tag !== "Exited") throw e
      const diagnostics = parseDiagnostics(e.stdout)
      if (diagnostics.length === 0) throw e
      return { diagnostics, output: e.stdout }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A block with a known error: an unused import (the README's quick start once had one). */
const CANARY = `import { Effect, Scope } from "effect"
import { ClusterConfig } from "kuilt"
export const config = ClusterConfig.ofVoters("n1")
export const program = Effect.void
`

const blockFile = (b: Block) => `readme-line-${String(b.fenceLine).padStart(4, "0")}.ts`

describe("README.md", () => {
  it("every ```ts block that is not marked as a fragment type-checks against the public entry points", async () => {
    const blocks = tsBlocks(readFileSync(join(root, "README.md"), "utf8"))
    const checked = blocks.filter((b) => !b.fragment)
    const skipped = blocks.filter((b) => b.fragment)
    const files = Object.fromEntries([
      ...checked.map((b) => [blockFile(b), b.code] as const),
      ["canary.ts", CANARY] as const
    ])
    const { diagnostics, output } = await typeCheck(files)
    console.log(
      `README.md: ${blocks.length} ts blocks, ${checked.length} type-checked, ${skipped.length} marked as fragments ` +
        `(lines ${skipped.map((b) => b.fenceLine).join(", ")})`
    )

    // The canary's error is found, at its line: the check really checks.
    const canary = diagnostics.filter((d) => d.file.endsWith("canary.ts"))
    expect(canary.map((d) => [d.line, d.text.split(":")[0]]), output).toEqual([[1, "error TS6133"]])

    // README errors, located in the README (fence line + line within the block).
    const errors = diagnostics.filter((d) => !d.file.endsWith("canary.ts")).map((d) => {
      const block = checked.find((b) => d.file.endsWith(blockFile(b)))
      return block === undefined
        ? `${d.file}(${d.line},${d.column}): ${d.text}`
        : `README.md:${block.fenceLine + d.line}:${d.column} (${block.section}): ${d.text}`
    })
    expect(errors).toEqual([])

    expect(checked.length).toBeGreaterThan(0)
    const quickStart = blocks.filter((b) => /quick start/i.test(b.section))
    expect(quickStart.length, "the Quick start section has a ts block").toBeGreaterThan(0)
    expect(quickStart.every((b) => !b.fragment), "the quick start is type-checked, not a fragment").toBe(true)
  }, TSC_MS + 15_000)

  it("finds ts blocks, their sections and fragment marks", () => {
    const md = [
      "# T",
      "```ts",
      "const a = 1",
      "```",
      "## Part",
      "```ts fragment",
      "yield* x",
      "```",
      "```",
      "not ts",
      "```",
      "````typescript",
      "```ts",
      "````"
    ].join("\n")
    expect(tsBlocks(md)).toEqual([
      { fenceLine: 2, section: "T", fragment: false, code: "const a = 1" },
      { fenceLine: 6, section: "Part", fragment: true, code: "yield* x" },
      { fenceLine: 12, section: "Part", fragment: false, code: "```ts" }
    ])
  })
})
