/**
 * What the controller and its child processes say to each other over Node's IPC channel
 * (`process.send`, structured as JSON). The controller sends requests, each with an id; the child
 * answers each id once. A child also announces itself once with `Ready` (its real pid, since
 * `tsx` runs the script in a process of its own under the one the controller spawned).
 */

/** Controller → child. `cmd` names a handler of the child; `args` is that handler's input. */
export interface Request {
  readonly id: number
  readonly cmd: string
  readonly args: unknown
}

/** Child → controller: the answer to request `id`. */
export type Reply =
  | { readonly _tag: "Ok"; readonly id: number; readonly value: unknown }
  | { readonly _tag: "Err"; readonly id: number; readonly error: string }

/** Child → controller, once, when its handlers are ready. `info` is child-specific (e.g. a URL). */
export interface Ready {
  readonly _tag: "Ready"
  readonly pid: number
  readonly info: unknown
}

export type FromChild = Reply | Ready

/** Environment variables the controller sets for every child. */
export const ENV_ARGS = "KUILT_PROCBENCH_ARGS"
export const ENV_CONTROLLER = "KUILT_PROCBENCH_CONTROLLER_PID"

/** The command every child understands: close its scope and exit (0). */
export const EXIT = "exit"

export const isFromChild = (m: unknown): m is FromChild =>
  typeof m === "object" && m !== null && "_tag" in m &&
  ((m as { _tag: unknown })._tag === "Ok" || (m as { _tag: unknown })._tag === "Err" ||
    (m as { _tag: unknown })._tag === "Ready")

export const isRequest = (m: unknown): m is Request =>
  typeof m === "object" && m !== null && typeof (m as Request).id === "number" && typeof (m as Request).cmd === "string"

/** Wall-clock milliseconds (µs precision), comparable across the processes of one machine. */
export const wallMs = (): number => performance.timeOrigin + performance.now()
