/**
 * The controller's side of its child processes: each is spawned asynchronously with `tsx` from
 * node_modules/.bin (IPC over the `fork`-style channel), lives in the caller's `Scope`, and is
 * asked to exit — then killed — when that scope closes. Every live child is also recorded in a
 * registry that kills them all with SIGKILL when the controller exits for any reason (an error,
 * SIGINT, the end of the run), so no benchmark leaves processes behind.
 *
 * `tsx` runs the script in a process of its own under the one spawned here; the script reports
 * its real pid (`Ready`), and that is the process a SIGKILL trial kills.
 */
import { Data, Deferred, Duration, Effect } from "effect"
import type { Scope } from "effect"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import type { ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { ENV_ARGS, ENV_CONTROLLER, EXIT, isFromChild } from "./protocol.js"

export class ChildError extends Data.TaggedError("ChildError")<{ readonly child: string; readonly reason: string }> {
  override get message() {
    return `${this.child}: ${this.reason}`
  }
}

export interface ChildExit {
  readonly code: number | null
  readonly signal: string | null
}

export interface Child {
  readonly name: string
  /** The script's own process (what `kill` signals). */
  readonly pid: number
  /** The `tsx` process the controller spawned (the script's parent). */
  readonly wrapperPid: number
  /** What the child announced with `Ready`. */
  readonly info: unknown
  /** Sends a command and waits for its answer (at most `timeout`, default 5 minutes). */
  readonly request: <T>(cmd: string, args?: unknown, timeout?: Duration.DurationInput) => Effect.Effect<T, ChildError>
  /** Completes when the child has exited (it is waited for through its `tsx` parent). */
  readonly exited: Effect.Effect<ChildExit>
  /** False once the child has exited. */
  readonly isAlive: () => boolean
  /** Sends `signal` to the script's process (SIGKILL: a crash). */
  readonly kill: (signal: NodeJS.Signals) => void
}

export interface SpawnOptions {
  /** Node flags for the script's process (e.g. `--cpu-prof`), passed through `tsx`. */
  readonly nodeFlags?: ReadonlyArray<string>
  /** Longest wait for `Ready`. Default 60 s (tsx compiles on first use; the machine may be busy). */
  readonly readyTimeout?: Duration.DurationInput
}

const TSX = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))
export const scriptPath = (file: string): string => fileURLToPath(new URL(file, import.meta.url))

// ------------------------------------------------------------------ the registry of live children

const live = new Set<ChildProcess | number>()

/**
 * SIGKILLs a `tsx` process and the script process under it. The script's pid is known once it is
 * ready; one killed while still loading is found through /proc (Linux) — otherwise it notices its
 * parent's IPC channel closing once it has loaded (`child.ts`).
 */
const killTree = (wrapper: ChildProcess) => {
  if (wrapper.pid !== undefined) {
    try {
      const children = readFileSync(`/proc/${wrapper.pid}/task/${wrapper.pid}/children`, "utf8").trim().split(/\s+/)
      for (const pid of children) if (pid !== "") process.kill(Number(pid), "SIGKILL")
    } catch {
      // not Linux, or already gone
    }
  }
  wrapper.kill("SIGKILL")
}

const killAll = () => {
  for (const p of live) {
    try {
      if (typeof p === "number") process.kill(p, "SIGKILL")
      else killTree(p)
    } catch {
      // already gone
    }
  }
  live.clear()
}
process.on("exit", killAll)

// ------------------------------------------------------------------ spawning

const pipeLines = (name: string, stream: NodeJS.ReadableStream | null) => {
  if (stream === null) return
  createInterface({ input: stream }).on("line", (line) => process.stderr.write(`[${name}] ${line}\n`))
}

/** Spawns `script` (a file beside this one) with `args`, waits for it to be ready. */
export const spawnChild = (
  name: string,
  script: string,
  args: unknown,
  options: SpawnOptions = {}
): Effect.Effect<Child, ChildError, Scope.Scope> =>
  Effect.gen(function*() {
    const proc = spawn(TSX, [...(options.nodeFlags ?? []), scriptPath(script)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, [ENV_ARGS]: JSON.stringify(args), [ENV_CONTROLLER]: String(process.pid) }
    })
    live.add(proc)
    pipeLines(name, proc.stdout)
    pipeLines(name, proc.stderr)
    const exited = yield* Deferred.make<ChildExit>()
    const ready = yield* Deferred.make<{ pid: number; info: unknown }, ChildError>()
    const pending = new Map<number, (r: { ok: true; value: unknown } | { ok: false; error: string }) => void>()
    let nextId = 1
    let realPid: number | undefined
    let alive = true
    proc.on("error", (e) => Deferred.unsafeDone(ready, Effect.fail(new ChildError({ child: name, reason: e.message }))))
    proc.on("exit", (code, signal) => {
      alive = false
      live.delete(proc)
      if (realPid !== undefined) live.delete(realPid)
      Deferred.unsafeDone(exited, Effect.succeed({ code, signal }))
      Deferred.unsafeDone(ready, Effect.fail(new ChildError({ child: name, reason: `exited before ready (code ${code}, ${signal})` })))
      for (const answer of pending.values()) answer({ ok: false, error: `exited (code ${code}, ${signal})` })
      pending.clear()
    })
    proc.on("message", (m: unknown) => {
      if (!isFromChild(m)) return
      if (m._tag === "Ready") {
        realPid = m.pid
        live.add(m.pid)
        Deferred.unsafeDone(ready, Effect.succeed({ pid: m.pid, info: m.info }))
        return
      }
      const answer = pending.get(m.id)
      pending.delete(m.id)
      answer?.(m._tag === "Ok" ? { ok: true, value: m.value } : { ok: false, error: m.error })
    })

    const request = <T>(cmd: string, args?: unknown, timeout: Duration.DurationInput = Duration.minutes(5)) =>
      Effect.async<T, ChildError>((resume) => {
        if (!alive) return resume(Effect.fail(new ChildError({ child: name, reason: `${cmd}: the child has exited` })))
        const id = nextId++
        pending.set(id, (r) =>
          resume(r.ok ? Effect.succeed(r.value as T) : Effect.fail(new ChildError({ child: name, reason: `${cmd}: ${r.error}` }))))
        proc.send({ id, cmd, args: args ?? null })
        return Effect.sync(() => void pending.delete(id))
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new ChildError({ child: name, reason: `${cmd}: no answer within ${Duration.format(timeout)}` })
        })
      )

    const kill = (signal: NodeJS.Signals) => {
      try {
        if (realPid !== undefined) process.kill(realPid, signal)
        else proc.kill(signal)
      } catch {
        // already gone
      }
    }

    // Release: ask it to exit (it closes its scope, writes a --cpu-prof profile), then make sure.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (alive) yield* Effect.ignore(request(EXIT, null, Duration.seconds(5)))
        const done = yield* Effect.timeoutOption(Deferred.await(exited), Duration.seconds(10))
        if (done._tag === "None" || alive) {
          kill("SIGKILL")
          killTree(proc)
        }
      })
    )

    const started = yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: options.readyTimeout ?? Duration.seconds(60),
        onTimeout: () => new ChildError({ child: name, reason: "not ready in time" })
      })
    )
    const child: Child = {
      name,
      pid: started.pid,
      wrapperPid: proc.pid!,
      info: started.info,
      request,
      exited: Deferred.await(exited),
      isAlive: () => alive,
      kill
    }
    return child
  })
