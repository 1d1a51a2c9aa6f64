/**
 * Test-side handle on a child process running one of the scripts in `procs/`: started with
 * `node --import tsx` asynchronously, its stdout collected as lines, stdin for commands, and bounded
 * waits that print what the child said when they give up.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { resolve } from "node:path"

const root = resolve(import.meta.dirname, "../../../..")

export interface Child {
  readonly name: string
  readonly proc: ChildProcess
  /** Every stdout line so far, with the time (ms, this process's clock) it arrived. */
  readonly lines: Array<{ readonly at: number; readonly text: string }>
  stderr: string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Sends one command line on stdin. */
  readonly send: (line: string) => void
  /** Resolves with the first line (from `from` on) that `match` accepts; rejects after `ms`. */
  readonly waitForLine: (match: (text: string) => boolean, ms: number, what: string, from?: number) => Promise<{ at: number; text: string; index: number }>
  readonly kill: (signal?: NodeJS.Signals) => void
  /** The last lines and stderr, for failure messages. */
  readonly tail: () => string
}

/** Starts `procs/<script>.ts` with `config` as its JSON argument. */
export const startChild = (name: string, script: string, config: unknown): Child => {
  const proc = spawn(process.execPath, ["--import", "tsx", resolve(import.meta.dirname, "procs", `${script}.ts`), JSON.stringify(config)], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"]
  })
  const lines: Array<{ at: number; text: string }> = []
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  const child: Child = {
    name,
    proc,
    lines,
    stderr: "",
    // "close", not "exit": it fires once stdout and stderr are drained.
    exited: new Promise((done) =>
      proc.on("close", (code, signal) => {
        exit = { code, signal }
        done(exit)
      })),
    send: (line) => {
      if (proc.stdin?.writable) proc.stdin.write(line + "\n")
    },
    waitForLine: async (match, ms, what, from = 0) => {
      const deadline = Date.now() + ms
      for (;;) {
        for (let i = from; i < lines.length; i++) if (match(lines[i]!.text)) return { ...lines[i]!, index: i }
        if (exit !== undefined) throw new Error(`${name} exited (${JSON.stringify(exit)}) while waiting for ${what}\n${child.tail()}`)
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} from ${name}\n${child.tail()}`)
        await new Promise((r) => setTimeout(r, 5))
      }
    },
    kill: (signal = "SIGKILL") => {
      if (exit === undefined) proc.kill(signal)
    },
    tail: () => `--- last lines of ${name} ---\n${lines.slice(-15).map((l) => l.text).join("\n")}\n--- stderr of ${name} ---\n${child.stderr.slice(-3000)}`
  }
  let partial = ""
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n")
    partial = parts.pop()!
    const at = Date.now()
    for (const text of parts) lines.push({ at, text })
  })
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (child.stderr += chunk))
  // A child whose stdin closes (this process died) exits by itself.
  proc.stdin!.on("error", () => undefined)
  return child
}

/** Kills every child and waits (bounded) for them to exit. */
export const stopAll = async (children: ReadonlyArray<Child>): Promise<void> => {
  for (const c of children) c.kill("SIGKILL")
  await Promise.race([Promise.all(children.map((c) => c.exited)), new Promise((r) => setTimeout(r, 10_000))])
}

/** Reads lines until the child answers `command` with a line starting with `reply `; returns the rest. */
export const ask = async (child: Child, command: string, reply: string, ms = 10_000): Promise<string> => {
  const from = child.lines.length
  child.send(command)
  const line = await child.waitForLine((t) => t.startsWith(`${reply} `), ms, `"${reply}" in answer to "${command}"`, from)
  return line.text.slice(reply.length + 1)
}
