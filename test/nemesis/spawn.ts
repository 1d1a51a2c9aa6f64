/**
 * How the nemesis starts its processes. Restarting is most of what a nemesis does, and under `tsx`
 * a restart costs a compiler process and a transform per module (tens of seconds on a loaded
 * 2-core machine). So the child scripts are bundled once per harness run with esbuild (already
 * present: tsx and vite use it) into `.nemesis/<pid>/` at the repository root — where
 * `better-sqlite3`, left outside the bundle, still resolves — and every start is a plain `node`.
 * The IPC protocol and the child runtime are bench/processes' (`protocol.ts`, `child.ts`).
 *
 * Every child is in the caller's `Scope` (asked to exit, then SIGKILLed) and in a registry that
 * SIGKILLs all of them when the controller exits; a child also exits on its own when the
 * controller is gone (`child.ts`'s watchdog).
 */
import { Data, Deferred, Duration, Effect } from "effect"
import type { Scope } from "effect"
import { build } from "esbuild"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdirSync, rmdirSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { ENV_ARGS, ENV_CONTROLLER, EXIT, isFromChild } from "../../bench/processes/protocol.js"

export class SpawnError extends Data.TaggedError("SpawnError")<{ readonly child: string; readonly reason: string }> {
  override get message() {
    return `${this.child}: ${this.reason}`
  }
}

export interface Proc {
  readonly name: string
  readonly pid: number
  readonly info: unknown
  readonly request: <T>(cmd: string, args: unknown, timeout: Duration.DurationInput) => Effect.Effect<T, SpawnError>
  /** Completes when the process has exited. */
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: string | null }>
  readonly isAlive: () => boolean
  readonly kill: (signal: NodeJS.Signals) => void
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const ENTRIES = { voter: "test/nemesis/voterChild.ts", host: "test/nemesis/hostChild.ts" } as const
export type Script = keyof typeof ENTRIES

const live = new Set<ChildProcess>()
let bundleDir: string | undefined
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL")
  if (bundleDir === undefined) return
  rmSync(bundleDir, { recursive: true, force: true })
  try {
    rmdirSync(dirname(bundleDir)) // only when no other harness run is using it
  } catch {
    // not empty
  }
})

/** Bundles the child scripts (once per controller process). */
export const bundle: Effect.Effect<void, SpawnError> = Effect.suspend(() => {
  if (bundleDir !== undefined) return Effect.void
  const dir = join(ROOT, ".nemesis", String(process.pid))
  mkdirSync(dir, { recursive: true })
  bundleDir = dir
  return Effect.tryPromise({
    try: () =>
      build({
        entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(ROOT, file)])),
        outdir: dir,
        outExtension: { ".js": ".mjs" },
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        external: ["better-sqlite3"],
        // CommonJS packages inside an ES module bundle still call `require`.
        banner: { js: "import { createRequire as __kuiltRequire } from 'node:module'; const require = __kuiltRequire(import.meta.url);" },
        logLevel: "error"
      }),
    catch: (e) => new SpawnError({ child: "bundle", reason: String(e) })
  })
})

const pipeLines = (name: string, stream: NodeJS.ReadableStream | null) => {
  if (stream !== null) createInterface({ input: stream }).on("line", (line) => process.stderr.write(`[${name}] ${line}\n`))
}

/** Starts `script` with `args` and waits (at most `readyTimeout`) until it is ready. */
export const start = (name: string, script: Script, args: unknown, readyTimeout: Duration.DurationInput): Effect.Effect<Proc, SpawnError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* bundle
    const proc = spawn(process.execPath, [join(bundleDir!, `${script}.mjs`)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, [ENV_ARGS]: JSON.stringify(args), [ENV_CONTROLLER]: String(process.pid) }
    })
    live.add(proc)
    pipeLines(name, proc.stdout)
    pipeLines(name, proc.stderr)
    const exited = yield* Deferred.make<{ code: number | null; signal: string | null }>()
    const ready = yield* Deferred.make<unknown, SpawnError>()
    const pending = new Map<number, (r: { ok: true; value: unknown } | { ok: false; error: string }) => void>()
    let nextId = 1
    let alive = true
    proc.on("error", (e) => Deferred.unsafeDone(ready, Effect.fail(new SpawnError({ child: name, reason: e.message }))))
    proc.on("exit", (code, signal) => {
      alive = false
      live.delete(proc)
      Deferred.unsafeDone(exited, Effect.succeed({ code, signal }))
      Deferred.unsafeDone(ready, Effect.fail(new SpawnError({ child: name, reason: `exited before ready (code ${code}, ${signal})` })))
      for (const answer of pending.values()) answer({ ok: false, error: `exited (code ${code}, ${signal})` })
      pending.clear()
    })
    proc.on("message", (m: unknown) => {
      if (!isFromChild(m)) return
      if (m._tag === "Ready") return void Deferred.unsafeDone(ready, Effect.succeed(m.info))
      const answer = pending.get(m.id)
      pending.delete(m.id)
      answer?.(m._tag === "Ok" ? { ok: true, value: m.value } : { ok: false, error: m.error })
    })
    const request = <T>(cmd: string, args: unknown, timeout: Duration.DurationInput) =>
      Effect.async<T, SpawnError>((resume) => {
        if (!alive || !proc.connected) return resume(Effect.fail(new SpawnError({ child: name, reason: `${cmd}: the process has exited` })))
        const id = nextId++
        pending.set(id, (r) =>
          resume(r.ok ? Effect.succeed(r.value as T) : Effect.fail(new SpawnError({ child: name, reason: `${cmd}: ${r.error}` }))))
        proc.send({ id, cmd, args: args ?? null })
        return Effect.sync(() => void pending.delete(id))
      }).pipe(Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new SpawnError({ child: name, reason: `${cmd}: no answer within ${Duration.format(timeout)}` })
      }))
    const kill = (signal: NodeJS.Signals) => {
      try {
        proc.kill(signal)
      } catch {
        // already gone
      }
    }
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (!alive) return
        kill("SIGCONT")
        yield* Effect.ignore(request(EXIT, null, Duration.seconds(5)))
        const done = yield* Effect.timeoutOption(Deferred.await(exited), Duration.seconds(10))
        if (done._tag === "None") kill("SIGKILL")
      })
    )
    const info = yield* Deferred.await(ready).pipe(Effect.timeoutFail({
      duration: readyTimeout,
      onTimeout: () => new SpawnError({ child: name, reason: `not ready within ${Duration.format(readyTimeout)}` })
    }))
    return { name, pid: proc.pid!, info, request, exited: Deferred.await(exited), isAlive: () => alive, kill } satisfies Proc
  })
