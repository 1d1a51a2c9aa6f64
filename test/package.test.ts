/**
 * The published package works for a consumer (README, "Install"). One build and one `npm pack`,
 * then three fresh apps install the tarball:
 *
 * 1. linked: this repository's installed modules, every optional peer included (no registry):
 *    every entry point imports at run time and type-checks, the packed SQLite storage opens a file,
 *    and every source map in the tarball points at a file in the tarball;
 * 2. the oldest supported Effect (the floor of each peer range) from the registry: one copy of
 *    `effect`, zero tsc errors (declarations checked too), zero language-service errors and
 *    warnings in the app (the same run finds a floating Effect planted beside it, and only that),
 *    a cluster commits at run time, and without the optional SQLite driver
 *    `SqlRaftStorage.makeSqlite` fails with the typed `SqliteDriverMissing` — then works once
 *    better-sqlite3 is there;
 * 3. a browser app from the registry with `--omit=optional`: no native module and no install
 *    script anywhere in its tree, one copy of `effect`, `kuilt` and `kuilt/browser` type-check
 *    without Node's types and bundle with esbuild for the browser.
 *
 * Every step is an asynchronous child process under its own bound (test/support/consumerApp.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import {
  bin,
  BUILD_MS,
  buildAndPack,
  INSTALL_MS,
  installedVersions,
  languageServiceDiagnostics,
  manifest,
  nativeCode,
  root,
  run,
  SMALL_STEP_MS,
  TYPECHECK_MS,
  typeCheck,
  writeApp
} from "./support/consumerApp.js"

const ENTRY_POINTS = ["kuilt", "kuilt/node", "kuilt/browser", "kuilt/testing", "kuilt/effect-cluster"] as const
const fixture = (name: string) => join(root, "test", "fixtures", "consumer", name)

/**
 * The oldest release of each peer the manifest's ranges admit: Effect 3.20 and the `@effect/*`
 * releases made for it (`@effect/platform-node` brings `@effect/sql`, `@effect/cluster`,
 * `@effect/rpc` as its own peers). Type declarations emitted against Effect 3.20+ use
 * `Types.VoidIfEmpty`, which Effect 3.19 lacks: that is why the range starts at 3.20.
 */
const FLOOR = {
  effect: "3.20.0",
  "@effect/platform": "0.95.0",
  "@effect/platform-node": "0.105.0",
  "@effect/sql": "0.50.0"
} as const

/** The versions this repository develops against (its devDependencies): the top of each range. */
const CURRENT = {
  effect: manifest.devDependencies["effect"]!.replace(/^\^/, ""),
  "@effect/platform": manifest.devDependencies["@effect/platform"]!.replace(/^\^/, "")
}

let work: string
let tarball: string
let npmCache: string

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "kuilt-pack-"))
  npmCache = join(work, "npm-cache")
  tarball = await buildAndPack(work)
}, BUILD_MS + SMALL_STEP_MS)

// Asynchronous: three apps' node_modules and an npm cache take a while to remove on a busy disk.
afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true })
}, SMALL_STEP_MS)

/** Unpacks the tarball as `app/node_modules/kuilt` (what an install would put there). */
const unpackInto = async (app: string) => {
  const pkgDir = join(app, "node_modules", "kuilt")
  mkdirSync(pkgDir, { recursive: true })
  await run("tar", ["-xzf", tarball, "-C", pkgDir, "--strip-components=1"], work)
  return pkgDir
}

/** Links `name` from this repository's node_modules into `app`'s. */
const link = (app: string, name: string) => {
  const target = join(app, "node_modules", name)
  if (existsSync(target)) return
  mkdirSync(dirname(target), { recursive: true })
  symlinkSync(join(root, "node_modules", name), target, "dir")
}

describe("the packed package", () => {
  it("with every peer installed, each entry point imports and type-checks, SQLite works, and source maps resolve", async () => {
    const app = join(work, "linked")
    writeApp(app, {})
    const pkgDir = await unpackInto(app)
    for (const dep of [...Object.keys(manifest.peerDependencies), "@types/node"]) link(app, dep)

    // Every source map in the tarball points at files the tarball ships.
    const files = (await run("tar", ["-tzf", tarball], work)).split("\n").filter((f) => f.length > 0).map((f) => f.replace(/^package\//, ""))
    const shipped = new Set(files)
    const maps = files.filter((f) => f.endsWith(".map"))
    expect(maps.length).toBeGreaterThan(0)
    const dangling: Array<string> = []
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(pkgDir, map), "utf8")) as { sources: ReadonlyArray<string> }
      for (const source of sources) {
        const target = resolve("/", dirname(map), source).slice(1)
        if (!shipped.has(target)) dangling.push(`${map} -> ${source}`)
      }
    }
    expect(dangling, `source maps pointing outside the tarball:\n${dangling.slice(0, 20).join("\n")}`).toEqual([])

    // Run time: every entry point exports something.
    copyFileSync(fixture("node-app.ts"), join(app, "app.ts"))
    await typeCheck(app, ["app.ts"], { types: ["node"], emit: true })
    const out = await run("node", ["out/app.js", join(work, "linked.sqlite")], app)
    expect(out).toContain("committed at index 2")
    expect(out).toContain("sqlite term 3")
    expect(out).toContain("runner storage: machine 1, shards default:1 default:2")
    const imports = ENTRY_POINTS.map((e, i) => `import * as m${i} from "${e}"`).join("\n")
    const checks = ENTRY_POINTS.map((e, i) => `if (Object.keys(m${i}).length === 0) throw new Error("${e} exports nothing")`).join("\n")
    await run("node", ["--input-type=module", "-e", `${imports}\n${checks}\nconsole.log("ok")`], app)
  }, 2 * TYPECHECK_MS + 5 * SMALL_STEP_MS)

  it("an app on the oldest supported Effect installs it with one copy of effect and type-checks with zero errors", async () => {
    const app = join(work, "floor")
    writeApp(app, { kuilt: `file:${tarball}`, ...FLOOR })
    await run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--cache", npmCache], app, INSTALL_MS)
    expect(await installedVersions(app, "effect")).toEqual([FLOOR.effect])
    // The app's own dev tool, not a subject of the test.
    link(app, "@types/node")

    copyFileSync(fixture("node-app.ts"), join(app, "app.ts"))
    // A floating Effect planted beside the app: the language service must find it (and only it),
    // which shows the check really looks at the files.
    writeFileSync(join(app, "canary.ts"), `import { Effect } from "effect"\nexport const f = () => {\n  Effect.succeed(1)\n}\n`)
    await typeCheck(app, ["app.ts", "canary.ts"], { types: ["node"], emit: true })
    const ls = await languageServiceDiagnostics(app)
    expect({ checked: ls.checked, files: ls.files, errors: ls.errors, warnings: ls.warnings }, ls.out).toEqual({
      checked: 2,
      files: 2,
      errors: 1,
      warnings: 0
    })
    expect(ls.diagnostics, ls.out).toEqual([expect.stringMatching(/^canary\.ts\(3,3\): error effect\(floatingEffect\)/)])

    // Run time at the floor; the optional SQLite driver is not installed: a typed error says so.
    const file = join(work, "floor.sqlite")
    const without = await run("node", ["out/app.js", file], app)
    expect(without).toContain("committed at index 2")
    expect(without).toMatch(/SqliteDriverMissing better-sqlite3: .*npm install better-sqlite3/)
    // kuilt/effect-cluster on the oldest @effect/cluster the range admits (a peer of the floor's platform-node).
    expect(without).toContain("runner storage: machine 1, shards default:1 default:2")
    // With the driver (this repository's build of it), the SQLite storage runs on the floor's @effect/sql.
    link(app, "better-sqlite3")
    expect(await run("node", ["out/app.js", file], app)).toContain("sqlite term 3")
  }, INSTALL_MS + 2 * TYPECHECK_MS + 4 * SMALL_STEP_MS)

  it("a browser app installs it with no native code and bundles kuilt and kuilt/browser for the browser", async () => {
    const app = join(work, "browser")
    writeApp(app, { kuilt: `file:${tarball}`, ...CURRENT })
    await run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=optional", "--cache", npmCache], app, INSTALL_MS)
    expect(await nativeCode(app)).toEqual([])
    for (const nodeOnly of ["better-sqlite3", "@effect/sql-sqlite-node", "@effect/platform-node"]) {
      expect(existsSync(join(app, "node_modules", nodeOnly)), `${nodeOnly} was installed`).toBe(false)
    }
    expect(await installedVersions(app, "effect")).toEqual([CURRENT.effect])

    copyFileSync(fixture("browser-app.ts"), join(app, "app.ts"))
    await typeCheck(app, ["app.ts"], { types: [] })
    await run(bin("esbuild"), ["app.ts", "--bundle", "--platform=browser", "--format=esm", "--outfile=out/app.js", "--log-level=warning"], app)
    expect(statSync(join(app, "out", "app.js")).size).toBeGreaterThan(100_000)
  }, INSTALL_MS + TYPECHECK_MS + 3 * SMALL_STEP_MS)
})
