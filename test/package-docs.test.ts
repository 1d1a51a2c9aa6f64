/**
 * The API docs build (README, "API docs"): `npm run docs` checks that every public export of every
 * entry point carries a doc comment (scripts/check-documented.ts), then typedoc renders the docs
 * with every warning an error (typedoc.json: links that resolve, no referenced type left out).
 * Here it builds into a temporary directory, and the check is shown to find an undocumented export.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ProcessFailed, runProcess } from "./support/proc.js"
import { bin, root } from "./support/consumerApp.js"

/**
 * Bounds for a 2-core machine busy with other tests: the export check builds one TypeScript
 * program of the package (about 8 s of CPU idle); typedoc converts the five entry points (about
 * 20 s of CPU idle, without re-checking types: `tsc` does that in `npm test`).
 */
const CHECK_MS = 120_000
const TYPEDOC_MS = 240_000

let out: string

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "kuilt-docs-"))
})

afterAll(() => {
  if (out !== undefined) rmSync(out, { recursive: true, force: true })
})

describe("API docs", () => {
  it("npm run docs: every public export is documented and typedoc builds with no warning", async () => {
    const { stdout, stderr } = await runProcess("npm", ["run", "docs", "--", "--out", out], { cwd: root, timeoutMs: CHECK_MS + TYPEDOC_MS })
    expect(stdout).toMatch(/all \d+ public exports are documented/)
    // typedoc.json sets treatWarningsAsErrors, so a warning fails the run above; none is printed.
    expect(`${stdout}\n${stderr}`).not.toMatch(/\[warning\]/)
    expect(existsSync(join(out, "index.html"))).toBe(true)
    // A page per entry point.
    const modules = readdirSync(join(out, "modules"))
    for (const entry of ["index", "node", "browser", "testing", "effect-cluster"]) {
      expect(modules, modules.join(", ")).toContain(`${entry}.html`)
    }
  }, CHECK_MS + TYPEDOC_MS)

  it("the export check names an undocumented export, and only it", async () => {
    const failure = await runProcess(bin("tsx"), ["scripts/check-documented.ts", "test/fixtures/docs/undocumented.ts"], {
      cwd: root,
      timeoutMs: CHECK_MS
    }).then(
      (r) => r,
      (e: unknown) => e
    )
    expect(failure).toBeInstanceOf(ProcessFailed)
    const { outcome, stderr } = failure as ProcessFailed
    expect(outcome, stderr).toEqual({ _tag: "Exited", code: 1 })
    expect(stderr).toContain("1 of 3 public exports have no doc comment")
    expect(stderr).toContain(".undocumented  (test/fixtures/docs/undocumented.ts:9)")
    expect(stderr).not.toMatch(/\.(documented|alsoDocumented) /)
  }, CHECK_MS)
})
