/**
 * The README's quick start is `examples/quickstart.ts`, character for character, and it runs: a
 * real process on the real clock that builds three nodes from Layers and commits a proposal. (The
 * type-check of `npm test` compiles it under the repo's tsconfig, where `kuilt` maps to `src/`.)
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"
import { resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const tsx = resolve(root, "node_modules", ".bin", "tsx")

/** The first ```ts block under the README's "## Quick start" heading. */
const quickStartBlock = (readme: string): string | undefined => {
  const section = readme.split(/^## /m).find((s) => s.startsWith("Quick start"))
  return section?.match(/```ts\n([\s\S]*?)```/)?.[1]
}

/** Runs `file` with tsx; resolves with its stdout, or rejects with what it printed when it fails or overruns. */
const run = (file: string, timeoutMs: number) =>
  new Promise<string>((done, fail) => {
    execFile(tsx, [file], { cwd: root, encoding: "utf8", timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error === null) done(stdout)
      else fail(new Error(`${file} failed (${error.message}); stdout:\n${stdout}\nstderr:\n${stderr}`))
    })
  })

describe("README quick start", () => {
  it("is the content of examples/quickstart.ts", async () => {
    const readme = await readFile(resolve(root, "README.md"), "utf8")
    const example = await readFile(resolve(root, "examples", "quickstart.ts"), "utf8")
    expect(quickStartBlock(readme)).toBe(example)
  })

  it("runs: three nodes built from Layers commit a proposal made on one of them", async () => {
    const out = await run("examples/quickstart.ts", 60_000)
    expect(out).toMatch(/^committed at index \d+ in term \d+$/m)
  }, 90_000)
})
