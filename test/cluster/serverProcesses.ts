/**
 * Cluster servers as child processes (`procs/server.ts`): free loopback ports chosen up front (a
 * restarted server must come back on its port, the others dial it there), started asynchronously
 * with `node --import tsx`, stdout as lines, stdin for commands, bounded waits that print what the
 * child said when they give up.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { waitFor } from "../support/waitFor.js"

const root = resolve(import.meta.dirname, "../..")
export const SECRET = "cluster test secret, 32 bytes ok"

export interface Server {
  readonly id: string
  readonly port: number
  readonly url: string
  readonly dir: string
  proc: ChildProcess
  /** Stdout lines of the current incarnation, with arrival time (ms). */
  lines: Array<{ readonly at: number; readonly text: string }>
  stderr: string
  exited: Promise<unknown>
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
}

/** `n` ports free on 127.0.0.1 right now. */
export const freePorts = async (n: number): Promise<Array<number>> => {
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

/** Describes servers `ids` on `ports` sharing `dir` (one SQLite file each). */
export const plan = (ids: ReadonlyArray<string>, ports: ReadonlyArray<number>, dir: string): Array<Server> =>
  ids.map((id, i) => ({
    id,
    port: ports[i]!,
    url: `ws://127.0.0.1:${ports[i]}/kuilt`,
    dir,
    proc: undefined as never,
    lines: [],
    stderr: "",
    exited: Promise.resolve(),
    exit: undefined
  }))

/** (Re)starts `s`'s process; the others are its peers. */
export const launch = (s: Server, all: ReadonlyArray<Server>, extra: Record<string, unknown> = {}): void => {
  const config = { id: s.id, voters: all.map((x) => ({ id: x.id, url: x.url })), port: s.port, dir: s.dir, secret: SECRET, ...extra }
  const proc = spawn(process.execPath, ["--import", "tsx", resolve(import.meta.dirname, "procs", "server.ts"), JSON.stringify(config)], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"]
  })
  s.proc = proc
  s.lines = []
  s.stderr = ""
  s.exit = undefined
  const lines = s.lines
  s.exited = new Promise((done) => proc.on("close", (code, signal) => {
    s.exit = { code, signal }
    done(undefined)
  }))
  let partial = ""
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n")
    partial = parts.pop()!
    const at = performance.now()
    for (const text of parts) lines.push({ at, text })
  })
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (s.stderr += chunk))
  proc.stdin!.on("error", () => undefined)
}

/** The last lines and stderr of `s`, for failure messages. */
export const tailOf = (s: Server): string =>
  `--- last lines of ${s.id} ---\n${s.lines.slice(-20).map((l) => l.text).join("\n")}\n--- stderr of ${s.id} ---\n${s.stderr.slice(-3000)}`

/** The first line of `s` (from index `from`) that `match` accepts; rejects after `ms` or if `s` exits. */
export const waitLine = async (s: Server, match: (text: string) => boolean, ms: number, what: string, from = 0) => {
  const deadline = performance.now() + ms
  for (;;) {
    const lines = s.lines
    for (let i = from; i < lines.length; i++) if (match(lines[i]!.text)) return { ...lines[i]!, index: i }
    if (s.exit !== undefined) throw new Error(`${s.id} exited (${JSON.stringify(s.exit)}) while waiting for ${what}\n${tailOf(s)}`)
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} from ${s.id}\n${tailOf(s)}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Sends `command` on stdin and returns the rest of the first `reply …` line after it. */
export const ask = async (s: Server, command: string, reply: string, ms = 15_000): Promise<string> => {
  const from = s.lines.length
  s.proc.stdin?.write(command + "\n")
  const line = await waitLine(s, (t) => t.startsWith(`${reply} `), ms, `"${reply}" in answer to "${command}"`, from)
  return line.text.slice(reply.length + 1)
}

/** The applied commands of `s`: `[index, command, clientId, requestId]`. */
export const appliedOf = async (s: Server): Promise<Array<[number, string, string, number]>> => JSON.parse(await ask(s, "applied", "applied"))

/** Kills every process still running and waits (bounded) for them to exit. */
export const stopAll = async (servers: ReadonlyArray<Server>): Promise<void> => {
  for (const s of servers) if (s.exit === undefined && s.proc !== undefined) s.proc.kill("SIGKILL")
  await Promise.race([Promise.all(servers.map((s) => s.exited)), new Promise((r) => setTimeout(r, 10_000))])
}

/** The leader the latest `leader` line of `s` names (`undefined` for none or no line yet). */
export const leaderOf = (s: Server): string | undefined => {
  for (let i = s.lines.length - 1; i >= 0; i--) {
    const t = s.lines[i]!.text
    if (t.startsWith("leader ")) return t === "leader none" ? undefined : t.slice(7)
  }
  return undefined
}

/**
 * Start-up of a child (tsx compiles the server and its imports: a few seconds of CPU, a minute
 * when every core is busy) plus an election.
 */
export const START_MS = 120_000

/** Waits until every server of `group` names the same leader, and returns it. */
export const agreedLeader = (group: ReadonlyArray<Server>): Promise<string> =>
  waitFor(() => group.map(leaderOf), (ls) => ls[0] !== undefined && ls.every((l) => l === ls[0]), {
    what: `${group.map((s) => s.id).join(", ")} agree on a leader`,
    timeoutMs: START_MS,
    show: (ls) => `${JSON.stringify(ls)}\n${group.map(tailOf).join("\n")}`
  }).then((ls) => ls[0]!)

/**
 * Three servers `a`, `b`, `c` as processes on SQLite in a fresh directory, listening and agreed on
 * a leader; stopped and removed when the caller's scope closes.
 */
export const startThree = (extra: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(tmpdir(), "kuilt-cluster-"))
    const servers = plan(["a", "b", "c"], yield* Effect.promise(() => freePorts(3)), dir)
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => stopAll(servers)).pipe(Effect.zipRight(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
    )
    for (const s of servers) launch(s, servers, extra)
    yield* Effect.promise(() => Promise.all(servers.map((s) => waitLine(s, (t) => t.startsWith("listening "), START_MS, "listening"))))
    const leader = yield* Effect.promise(() => agreedLeader(servers))
    return { servers, leader }
  })
