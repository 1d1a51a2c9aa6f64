/**
 * The runtime of every child process of the cross-process benchmark: reads its arguments from the
 * environment, builds its handlers in a scope, announces itself (`Ready`), answers requests, and
 * exits when told to — or on its own when the controller is gone, so a killed controller leaves no
 * orphans behind (the IPC channel closing, or the controller's pid no longer existing).
 */
import { Cause, Effect, Exit, Scope } from "effect"
import { ENV_ARGS, ENV_CONTROLLER, EXIT, isRequest } from "./protocol.js"
import type { FromChild } from "./protocol.js"

/** A child's commands: each takes the request's `args` and answers with a JSON-able value. */
export type Handlers = Record<string, (args: any) => Effect.Effect<unknown, unknown>>

export interface ChildSetup {
  /** Sent with `Ready` (e.g. the URL the child listens on). */
  readonly info: unknown
  readonly handlers: Handlers
}

const send = (m: FromChild): void => {
  if (process.connected) process.send!(m)
}

/** How often the child checks that its controller still exists. */
const WATCHDOG_MS = 500

const watchController = (): void => {
  process.on("disconnect", () => process.exit(3))
  const pid = Number(process.env[ENV_CONTROLLER])
  if (!Number.isSafeInteger(pid) || pid <= 0) return
  setInterval(() => {
    try {
      process.kill(pid, 0)
    } catch {
      process.exit(3)
    }
  }, WATCHDOG_MS).unref()
}

/** Runs a child: `setup` gets the arguments the controller passed and builds the handlers. */
export const runChild = <A>(setup: (args: A) => Effect.Effect<ChildSetup, unknown, Scope.Scope>): void => {
  if (process.send === undefined) {
    console.error("this file is a child of `npm run bench:processes`; run that instead")
    process.exit(2)
  }
  watchController()
  const args = JSON.parse(process.env[ENV_ARGS] ?? "{}") as A
  const scope = Effect.runSync(Scope.make())
  let exiting = false
  const exit = (code: number) => {
    if (exiting) return
    exiting = true
    // A scope that does not close in time must not keep the process (and the run) alive.
    setTimeout(() => process.exit(code), 3_000).unref()
    Effect.runPromise(Scope.close(scope, Exit.void)).finally(() => process.exit(code))
  }
  Effect.runPromiseExit(Scope.extend(setup(args), scope)).then((built) => {
    if (Exit.isFailure(built)) {
      console.error(Cause.pretty(built.cause))
      return exit(1)
    }
    const { handlers, info } = built.value
    process.on("message", (m: unknown) => {
      if (!isRequest(m)) return
      if (m.cmd === EXIT) {
        send({ _tag: "Ok", id: m.id, value: null })
        return exit(0)
      }
      const handler = handlers[m.cmd]
      if (handler === undefined) return send({ _tag: "Err", id: m.id, error: `unknown command ${m.cmd}` })
      Effect.runPromiseExit(handler(m.args)).then((done) =>
        send(
          Exit.isSuccess(done)
            ? { _tag: "Ok", id: m.id, value: done.value ?? null }
            : { _tag: "Err", id: m.id, error: Cause.pretty(done.cause) }
        )
      )
    })
    send({ _tag: "Ready", pid: process.pid, info })
  })
}
