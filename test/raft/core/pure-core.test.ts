/**
 * The Raft core is plain TypeScript with no Effect at runtime (docs/ARCHITECTURE.md, "Parts"):
 * bundling every module of src/raft/core pulls in nothing but those modules. esbuild bundles them
 * with a metafile, which lists every input the bundle read.
 */
import { describe, expect, it } from "@effect/vitest"
import { build } from "esbuild"
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const coreDir = "src/raft/core"
const coreModules = readdirSync(new URL(`../../../${coreDir}/`, import.meta.url))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => `${coreDir}/${f}`)

/** The inputs esbuild read to bundle `contents` (paths relative to the repository). */
const bundleInputs = async (contents: string): Promise<ReadonlyArray<string>> => {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: "ts", sourcefile: "entry.ts" },
    absWorkingDir: root,
    bundle: true,
    platform: "neutral",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent"
  })
  return Object.keys(result.metafile.inputs).filter((p) => p !== "entry.ts")
}

const reexportAll = (files: ReadonlyArray<string>): string => files.map((f) => `export * from "./${f}"`).join("\n")

describe("the core is pure", () => {
  it("bundling every module of src/raft/core reads no module outside it (no effect, no services, no codec)", async () => {
    expect(coreModules.length).toBeGreaterThan(20)
    const inputs = await bundleInputs(reexportAll(coreModules))
    const outside = inputs.filter((p) => !p.startsWith(`${coreDir}/`))
    expect(outside).toEqual([])
    expect(inputs.filter((p) => p.includes("node_modules/effect"))).toEqual([])
  })

  it("the same check sees an import of effect when there is one (the public LogEntry Schema)", async () => {
    const inputs = await bundleInputs(reexportAll([...coreModules, "services/raft/LogEntry.ts"]))
    expect(inputs.some((p) => p.includes("node_modules/effect/"))).toBe(true)
  })
})
