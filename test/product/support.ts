/**
 * What the product tests share: the `kuilt` command bundled once per test file (esbuild, with the
 * packages left as imports, so each run of the CLI starts in about a second instead of compiling
 * the sources with tsx), free loopback ports, a `kuilt` run that resolves with its exit code and
 * output, and a three-server cluster of `kuilt serve` processes.
 */
import { build } from "esbuild"
import { mkdirSync } from "node:fs"
import { createServer } from "node:net"
import { join, resolve } from "node:path"
import { type StartedProcess, startProcess, tail } from "../support/proc.js"
import { waitFor } from "../support/waitFor.js"
import { spawn } from "node:child_process"

export const root = resolve(import.meta.dirname, "../..")
/** Test artifacts (bundle, data directories, screenshots); gitignored. */
export const artifacts = join(root, "test-artifacts", "product")

/** Bundles `src/cli/main.ts` to `<artifacts>/<name>.mjs` and returns its path. */
export const bundleCli = async (name: string): Promise<string> => {
  mkdirSync(artifacts, { recursive: true })
  const outfile = join(artifacts, `${name}.mjs`)
  await build({
    entryPoints: [join(root, "src/cli/main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outfile,
    logLevel: "warning"
  })
  return outfile
}

/** `n` distinct free TCP ports on 127.0.0.1 (each found by listening on port 0, then closed). */
export const freePorts = async (n: number): Promise<ReadonlyArray<number>> => {
  const servers = await Promise.all(Array.from({ length: n }, () =>
    new Promise<import("node:net").Server>((done, fail) => {
      const s = createServer()
      s.once("error", fail)
      s.listen(0, "127.0.0.1", () => done(s))
    })))
  const ports = servers.map((s) => (s.address() as import("node:net").AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))))
  return ports
}

export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the bundled `kuilt` with `args` asynchronously and resolves with how it ended (a non-zero
 * exit is an outcome the test checks, not a rejection). Killed past `timeoutMs`.
 */
export const kuilt = (cli: string, args: ReadonlyArray<string>, timeoutMs = 60_000): Promise<CliRun> =>
  new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`
      child.kill("SIGKILL")
    }, timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr })
    })
  })

/** One line of a failed run, for assertion messages. */
export const showRun = (args: ReadonlyArray<string>, r: CliRun) =>
  `kuilt ${args.join(" ")} → exit ${r.code}\nstdout: ${tail(r.stdout, 1500)}\nstderr: ${tail(r.stderr, 1500)}`

export interface Server {
  readonly id: string
  readonly endpoint: string
  readonly process: StartedProcess
}

/** Starts `kuilt serve` for each of `ids` on free ports, SQLite under `dataDir`; resolves once all listen. */
export const startServers = async (
  cli: string,
  ids: ReadonlyArray<string>,
  dataDir: string,
  extra: ReadonlyArray<string> = []
): Promise<ReadonlyArray<Server>> => {
  const ports = await freePorts(ids.length)
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(",")
  const servers = ids.map((id, i) => ({
    id,
    endpoint: `127.0.0.1:${ports[i]}`,
    process: startProcess(process.execPath, [cli, "serve", "--id", id, "--peers", peers, "--data-dir", dataDir, ...extra], { cwd: root })
  }))
  for (const s of servers) {
    // A start is a node process loading the bundle and opening SQLite: a second idle, many on a loaded machine.
    await waitFor(() => s.process.lines, (ls) => ls.some((l) => l.startsWith("listening:")), {
      what: `kuilt serve ${s.id} to listen`,
      timeoutMs: 60_000,
      intervalMs: 100,
      show: (ls) => `${JSON.stringify(ls.slice(-5))}; stderr: ${tail(s.process.stderr(), 1500)}`,
      abortIf: () => (s.process.exit() === undefined ? undefined : `it exited: ${JSON.stringify(s.process.exit())}; stderr: ${tail(s.process.stderr(), 1500)}`)
    })
  }
  return servers
}
