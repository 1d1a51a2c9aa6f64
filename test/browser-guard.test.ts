/**
 * The `kuilt` entry point must bundle for browsers (docs/ARCHITECTURE.md, "Parts"): nothing reachable from
 * src/index.ts may import `node:*` or a Node built-in. esbuild bundles it for `platform: "browser"`
 * with a plugin that turns any such import into a build error naming the importer.
 */
import { describe, expect, it } from "@effect/vitest"
import { build, type BuildFailure, type Plugin } from "esbuild"
import { builtinModules } from "node:module"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const builtins = new Set(builtinModules)

/** `node:fs`, `fs`, `fs/promises`, `_http_agent`, …: anything Node resolves to a built-in. */
const isNodeBuiltin = (specifier: string): boolean =>
  specifier.startsWith("node:") || builtins.has(specifier) || builtins.has(specifier.split("/")[0]!)

interface Offence {
  readonly specifier: string
  readonly importer: string
}

/** An esbuild plugin that fails the build on every import of a Node built-in, and records it. */
const forbidNodeBuiltins = (offences: Array<Offence>): Plugin => ({
  name: "forbid-node-builtins",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (!isNodeBuiltin(args.path)) return undefined
      offences.push({ specifier: args.path, importer: args.importer })
      return { errors: [{ text: `Node built-in "${args.path}" imported by ${args.importer} (browser bundle)` }] }
    })
  }
})

type Bundled =
  | { readonly _tag: "Built"; readonly bytes: number; readonly offences: ReadonlyArray<Offence> }
  | { readonly _tag: "Failed"; readonly errors: ReadonlyArray<string>; readonly offences: ReadonlyArray<Offence> }

const bundleForBrowser = async (
  entry: { readonly file: string } | { readonly contents: string }
): Promise<Bundled> => {
  const offences: Array<Offence> = []
  try {
    const result = await build({
      ...("file" in entry
        ? { entryPoints: [entry.file] }
        : { stdin: { contents: entry.contents, resolveDir: root, loader: "ts" as const } }),
      absWorkingDir: root,
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      target: "es2022",
      logLevel: "silent",
      plugins: [forbidNodeBuiltins(offences)]
    })
    const bytes = result.outputFiles.reduce((n, f) => n + f.contents.length, 0)
    return { _tag: "Built", bytes, offences }
  } catch (error) {
    const errors = (error as BuildFailure).errors?.map((m) => m.text) ?? [String(error)]
    return { _tag: "Failed", errors, offences }
  }
}

describe("browser guard", () => {
  it("bundles the kuilt entry point for the browser without any Node built-in", async () => {
    const bundled = await bundleForBrowser({ file: "src/index.ts" })
    expect(bundled.offences).toEqual([])
    expect(bundled._tag === "Failed" ? bundled.errors : []).toEqual([])
    expect(bundled._tag === "Built" && bundled.bytes).toBeGreaterThan(0)
  })

  it("fails the build for an entry that reaches node:fs through a relative import", async () => {
    const bundled = await bundleForBrowser({ file: "test/fixtures/imports-node-builtin.ts" })
    expect(bundled._tag).toBe("Failed")
    expect(bundled.offences.map((o) => o.specifier)).toEqual(["node:fs"])
    expect(bundled.offences[0]?.importer).toMatch(/reads-a-file\.ts$/)
    expect(bundled._tag === "Failed" && bundled.errors.join("\n")).toContain(`Node built-in "node:fs"`)
  })

  it("fails the build for bare built-in names without the node: prefix", async () => {
    for (const specifier of ["fs", "fs/promises", "path", "crypto", "worker_threads"]) {
      const bundled = await bundleForBrowser({ contents: `export * from ${JSON.stringify(specifier)}` })
      expect(bundled._tag).toBe("Failed")
      expect(bundled.offences.map((o) => o.specifier)).toEqual([specifier])
    }
  })
})
