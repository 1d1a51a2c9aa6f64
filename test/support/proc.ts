/**
 * Child processes for tests, always asynchronous: a synchronous one (`execFileSync` and friends)
 * blocks the vitest worker's event loop, so the worker cannot answer its RPCs and vitest reports
 * "Timeout calling onTaskUpdate" on a loaded machine; a hung child would also hang the worker.
 *
 * `runProcess` starts the command in its own process group, collects its output, and settles when
 * it exits. A run past `timeoutMs` kills the whole group (npm and tsx start children of their own)
 * and fails; so does a non-zero exit or a signal. The error names the command, the working
 * directory, how it ended and the last few KiB of stdout and stderr, so a CI log says what broke.
 * `startProcess` is the long-running form: the test reads its output lines as they come, waits on
 * them with `waitFor`, and kills it (a test that kills children on purpose).
 *
 * Either way a child still running when the worker exits (its test timed out around it) is killed
 * with its group.
 */
import { type ChildProcess, spawn } from "node:child_process"

/** How much of each stream a failure message quotes (its end, where errors usually are). */
const TAIL_BYTES = 4096
/** After SIGTERM, the group gets this long to exit before SIGKILL. */
const KILL_GRACE_MS = 2_000

export interface RunOptions {
  readonly cwd: string
  /** The whole run, start to exit; past it the process group is killed and the run fails. */
  readonly timeoutMs: number
  /** Extra environment variables (added to this process's environment). */
  readonly env?: Readonly<Record<string, string>>
}

export interface RunResult {
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Why a child run failed: everything a reader of the CI log needs, in `message` too. */
export class ProcessFailed extends Error {
  override readonly name = "ProcessFailed"
  constructor(
    readonly command: string,
    readonly cwd: string,
    readonly outcome:
      | { readonly _tag: "Exited"; readonly code: number }
      | { readonly _tag: "Signalled"; readonly signal: string }
      | { readonly _tag: "TimedOut"; readonly timeoutMs: number }
      | { readonly _tag: "SpawnFailed"; readonly reason: string },
    readonly stdout: string,
    readonly stderr: string,
    readonly ms: number
  ) {
    super(
      `${command} (in ${cwd}) ${describeOutcome(outcome)} after ${Math.round(ms)} ms\n` +
        `--- stdout (last ${TAIL_BYTES} bytes) ---\n${tail(stdout)}\n` +
        `--- stderr (last ${TAIL_BYTES} bytes) ---\n${tail(stderr)}`
    )
  }
}

const describeOutcome = (outcome: ProcessFailed["outcome"]): string => {
  switch (outcome._tag) {
    case "Exited":
      return `exited with code ${outcome.code}`
    case "Signalled":
      return `was killed by ${outcome.signal}`
    case "TimedOut":
      return `did not finish within ${outcome.timeoutMs} ms (process group killed)`
    case "SpawnFailed":
      return `could not start: ${outcome.reason}`
  }
}

/** The last `TAIL_BYTES` of `text` (by UTF-16 units, close enough for a log excerpt). */
export const tail = (text: string, bytes = TAIL_BYTES): string =>
  text.length <= bytes ? text : `…${text.slice(text.length - bytes)}`

const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))

/** Children still running, killed if the worker exits first (a test timed out around them). */
const live = new Set<ChildProcess>()
let exitHook = false

/** Signals the child's whole process group (it leads one: `detached`), ignoring a gone group. */
const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // The group is already gone.
  }
}

const installExitHook = () => {
  if (exitHook) return
  exitHook = true
  process.once("exit", () => {
    for (const child of live) killGroup(child, "SIGKILL")
  })
}

/**
 * Runs `command args` to completion without blocking the event loop. Resolves with its output
 * when it exits with code 0; rejects with `ProcessFailed` otherwise (see the module comment).
 */
export const runProcess = (command: string, args: ReadonlyArray<string>, options: RunOptions): Promise<RunResult> => {
  installExitHook()
  const shown = [command, ...args].map(quote).join(" ")
  const started = performance.now()
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a timeout can kill the grandchildren too.
      detached: true
    })
    live.add(child)
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    let timedOut = false
    let spawnError: Error | undefined
    let forceKill: NodeJS.Timeout | undefined
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child, "SIGTERM")
      forceKill = setTimeout(() => killGroup(child, "SIGKILL"), KILL_GRACE_MS)
    }, options.timeoutMs)
    child.on("error", (e) => (spawnError = e))
    // "close", not "exit": it fires once stdout and stderr are drained.
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      if (forceKill !== undefined) clearTimeout(forceKill)
      live.delete(child)
      // Whatever the child left behind in its group goes with it.
      killGroup(child, "SIGKILL")
      const ms = performance.now() - started
      const fail = (outcome: ProcessFailed["outcome"]) =>
        reject(new ProcessFailed(shown, options.cwd, outcome, stdout, stderr, ms))
      if (spawnError !== undefined) return fail({ _tag: "SpawnFailed", reason: spawnError.message })
      if (timedOut) return fail({ _tag: "TimedOut", timeoutMs: options.timeoutMs })
      if (signal !== null) return fail({ _tag: "Signalled", signal })
      if (code !== 0) return fail({ _tag: "Exited", code: code ?? -1 })
      resolve({ stdout, stderr, ms })
    })
  })
}

/** A child the test drives: its output so far, how it ended, and a way to end it. */
export interface StartedProcess {
  readonly pid: number | undefined
  /** Complete stdout lines so far. */
  readonly lines: ReadonlyArray<string>
  /** All stderr so far. */
  readonly stderr: () => string
  /** Set once the child exited and its output is drained. */
  readonly exit: () => { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined
  /** Settles when the child exited and its output is drained. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Signals the child's process group. */
  readonly kill: (signal?: NodeJS.Signals) => void
  /** The command line, for messages. */
  readonly command: string
}

/**
 * Starts `command args` in its own process group and returns at once; stdout is split into lines
 * as it arrives. The caller bounds its waits (`waitFor` with `abortIf: () => exited`) and kills
 * the child when done (`kill("SIGKILL")` in a `finally`).
 */
export const startProcess = (command: string, args: ReadonlyArray<string>, options: { readonly cwd: string }): StartedProcess => {
  installExitHook()
  const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"], detached: true })
  live.add(child)
  const lines: Array<string> = []
  let stderr = ""
  let partial = ""
  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n")
    partial = parts.pop()!
    lines.push(...parts)
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  child.on("error", (e) => (stderr += `\n[spawn error] ${e.message}`))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    // "close", not "exit": it fires once stdout and stderr are drained, so no line arrives after it.
    child.on("close", (code, signal) => {
      live.delete(child)
      killGroup(child, "SIGKILL")
      ended = { code, signal }
      done(ended)
    })
  )
  return {
    pid: child.pid,
    lines,
    stderr: () => stderr,
    exit: () => ended,
    exited,
    kill: (signal = "SIGKILL") => {
      if (ended === undefined) killGroup(child, signal)
    },
    command: [command, ...args].map(quote).join(" ")
  }
}
