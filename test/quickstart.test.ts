/**
 * The README's quick start is `examples/quickstart.ts`, character for character, and it runs: a
 * real process on the real clock that builds three nodes from Layers and commits a proposal. (The
 * type-check of `npm test` compiles it under the repo's tsconfig, where `kuilt` maps to `src/`.)
 */
import { describe, expect, it } from "@effect/vitest"
import { readFile } from "node:fs/promises"
import { resolve } from "node:path"
import { runProcess } from "./support/proc.js"

const root = resolve(import.meta.dirname, "..")
const tsx = resolve(root, "node_modules", ".bin", "tsx")

/** The first ```ts block under the README's "## Quick start" heading. */
const quickStartBlock = (readme: string): string | undefined => {
  const section = readme.split(/^## /m).find((s) => s.startsWith("Quick start"))
  return section?.match(/```ts\n([\s\S]*?)```/)?.[1]
}

/**
 * Runs `file` with tsx; resolves with its stdout, or rejects with what it printed when it fails or
 * overruns (tsx and the node it starts are killed together, see `test/support/proc.ts`).
 */
const run = async (file: string, timeoutMs: number) => (await runProcess(tsx, [file], { cwd: root, timeoutMs })).stdout

/** tsx compiling the example, then an election and one commit: as an example of `examples.test.ts`. */
const RUN_MS = 90_000

describe("README quick start", () => {
  it("is the content of examples/quickstart.ts", async () => {
    const readme = await readFile(resolve(root, "README.md"), "utf8")
    const example = await readFile(resolve(root, "examples", "quickstart.ts"), "utf8")
    expect(quickStartBlock(readme)).toBe(example)
  })

  it("runs: three nodes built from Layers commit a proposal made on one of them", async () => {
    const out = await run("examples/quickstart.ts", RUN_MS)
    expect(out).toMatch(/^committed at index \d+ in term \d+$/m)
  }, RUN_MS + 15_000)
})
