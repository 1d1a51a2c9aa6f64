/**
 * Fresh consumer projects for the packaging tests: build and pack this package, install the
 * tarball into a new app (from the registry or by linking this repository's modules), and check
 * the app the way a user's toolchain would (tsc, the Effect language service, `npm ls`, esbuild).
 * Every step is an asynchronous child process (`runProcess`) under its own bound; a failure quotes
 * the command and its output.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { readdir, readFile, stat } from "node:fs/promises"
import { cpus, loadavg } from "node:os"
import { join, resolve } from "node:path"
import { ProcessFailed, runProcess } from "./proc.js"

export const root = resolve(import.meta.dirname, "..", "..")
export const bin = (name: string) => join(root, "node_modules", ".bin", name)

/**
 * Bounds per step, for a 2-core machine whose cores are busy with other tests. The build is a full
 * `tsc` emit of the package (about 25 s idle); a type check of a consumer reads every declaration
 * of the package and of Effect (10–15 s idle); an install from the registry fetches 10–40
 * packages (10–15 s on a good link, with a fresh cache); the rest take a second or two.
 */
export const BUILD_MS = 180_000
export const TYPECHECK_MS = 150_000
export const INSTALL_MS = 240_000
export const SMALL_STEP_MS = 60_000

/**
 * Runs one step and returns its stdout. A step past its bound fails with the command's output
 * tails and the machine's load averages, so a CI log tells a hung step from a starved one.
 */
export const run = async (cmd: string, args: ReadonlyArray<string>, cwd: string, timeoutMs = SMALL_STEP_MS) =>
  (await runProcess(cmd, args, { cwd, timeoutMs }).catch((e: unknown) => {
    if (e instanceof ProcessFailed && e.outcome._tag === "TimedOut") {
      e.message += `\n--- load averages (1, 5, 15 min) on ${cpus().length} cores: ${loadavg().map((l) => l.toFixed(1)).join(", ")}`
    }
    throw e
  })).stdout

/** Builds `dist/` and packs the package into `work`; returns the tarball's path. */
export const buildAndPack = async (work: string): Promise<string> => {
  await run("npm", ["run", "build"], root, BUILD_MS)
  await run("npm", ["pack", "--ignore-scripts", "--pack-destination", work], root)
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"))
  if (tarball === undefined) throw new Error(`npm pack left no tarball in ${work}: ${readdirSync(work).join(", ")}`)
  return join(work, tarball)
}

/** The package's manifest. */
export const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly version: string
  readonly peerDependencies: Readonly<Record<string, string>>
  readonly peerDependenciesMeta: Readonly<Record<string, { readonly optional?: boolean }>>
  readonly devDependencies: Readonly<Record<string, string>>
}

/** Writes a new app with these dependencies (versions or `file:` specs). */
export const writeApp = (dir: string, dependencies: Readonly<Record<string, string>>): void => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true, dependencies }, null, 2))
}

/**
 * `npm install` in `app` from the registry, with npm's cache in `cache` (shared by the apps of one
 * run), no install scripts (a test must see a native module, not build one), and `--omit=optional`
 * when asked.
 */
export const npmInstall = (app: string, cache: string, options: { readonly omitOptional?: boolean } = {}) =>
  run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--cache", cache, ...(options.omitOptional ? ["--omit=optional"] : [])],
    app,
    INSTALL_MS
  )

interface LsNode {
  readonly version?: string
  readonly dependencies?: Readonly<Record<string, LsNode>>
}

/** Every version of `name` installed in `app`'s tree (`npm ls --all --json`), deduplicated. */
export const installedVersions = async (app: string, name: string): Promise<ReadonlyArray<string>> => {
  const tree = JSON.parse(await run("npm", ["ls", name, "--all", "--json"], app)) as LsNode
  const found = new Set<string>()
  const walk = (deps: LsNode["dependencies"]) => {
    for (const [dep, node] of Object.entries(deps ?? {})) {
      if (dep === name && node.version !== undefined) found.add(node.version)
      walk(node.dependencies)
    }
  }
  walk(tree.dependencies)
  return [...found].sort()
}

/**
 * What in `app/node_modules` is or builds native code: `.node` binaries, `binding.gyp` files, and
 * packages with install scripts (`preinstall`, `install`, `postinstall`). Paths relative to `app`.
 * Asynchronous: a synchronous walk of a whole tree would block the vitest worker on a busy machine.
 */
export const nativeCode = async (app: string): Promise<ReadonlyArray<string>> => {
  const found: Array<string> = []
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name)
      const relPath = `${rel}/${name}`
      const info = await stat(path).catch(() => undefined)
      if (info === undefined) continue
      if (info.isDirectory()) {
        await walk(path, relPath)
      } else if (name.endsWith(".node") || name === "binding.gyp") {
        found.push(relPath)
      } else if (name === "package.json" && /\/node_modules\/(@[^/]+\/)?[^/]+$/.test(rel)) {
        const scripts = (JSON.parse(await readFile(path, "utf8")) as { scripts?: Record<string, string> }).scripts ?? {}
        for (const hook of ["preinstall", "install", "postinstall"]) {
          if (scripts[hook] !== undefined) found.push(`${relPath} (${hook}: ${scripts[hook]})`)
        }
      }
    }
  }
  if (existsSync(join(app, "node_modules"))) await walk(join(app, "node_modules"), "node_modules")
  return found
}

/**
 * Type-checks `files` in `app` with the repository's TypeScript: strict, NodeNext, and the
 * declarations of every package checked too (`skipLibCheck: false`); `types` lists the ambient
 * type packages (none for a browser app). Emits to `app/out` when `emit` is set. Writes the
 * project as `app/tsconfig.json`, with the Effect language service plugin, so
 * `languageServiceDiagnostics` can run on the same project. (The language service's command line
 * finds its plugin settings only in a file named `tsconfig.json`: with another name it checks
 * none of the files and reports zero diagnostics.)
 */
export const typeCheck = async (
  app: string,
  files: ReadonlyArray<string>,
  options: { readonly types: ReadonlyArray<string>; readonly emit?: boolean }
): Promise<void> => {
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2022",
        lib: ["ES2022", "DOM"],
        strict: true,
        skipLibCheck: false,
        types: options.types,
        ...(options.emit ? { outDir: "out" } : { noEmit: true }),
        plugins: [{ name: "@effect/language-service" }]
      },
      files
    })
  )
  await run(bin("tsc"), ["-p", "tsconfig.json"], app, TYPECHECK_MS)
}

/**
 * The Effect language service's diagnostics on `app/tsconfig.json` (written by `typeCheck`):
 * how many files it checked of how many, `{ errors, warnings }`, each diagnostic's line
 * (`file(line,col): severity ...`) and the whole output. The command exits with 1 when it found
 * errors; that is a result here, not a failure.
 */
export const languageServiceDiagnostics = async (app: string) => {
  const out = await runProcess(bin("effect-language-service"), ["diagnostics", "--project", "tsconfig.json", "--format", "text"], {
    cwd: app,
    timeoutMs: TYPECHECK_MS
  })
    .then((r) => r.stdout)
    .catch((e: unknown) => {
      if (e instanceof ProcessFailed && e.outcome._tag === "Exited" && e.outcome.code === 1) return e.stdout
      throw e
    })
  const checked = /Checked (\d+) files? out of (\d+) files?/.exec(out)
  const summary = /(\d+) errors?, (\d+) warnings?/.exec(out)
  if (checked === null || summary === null) throw new Error(`no summary in the language service's output:\n${out}`)
  return {
    checked: Number(checked[1]),
    files: Number(checked[2]),
    errors: Number(summary[1]),
    warnings: Number(summary[2]),
    diagnostics: out.split("\n").filter((line) => /^\S+\(\d+,\d+\): (error|warning)/.test(line)),
    out
  }
}
