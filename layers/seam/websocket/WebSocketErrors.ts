/**
 * Typed failures of the WebSocket client loom.
 */
import { Data } from "effect"
import { rejectCodeName } from "./RejectCode.js"

/**
 * The host refused the join (a `Reject` frame, or a close with an application code before the
 * `Welcome`). `code` is a `RejectCode` (or 1009 when the hello exceeded the frame limit).
 */
export class JoinRefused extends Data.TaggedError("JoinRefused")<{
  readonly code: number
  readonly reason: string
}> {
  override get message() {
    return `join refused: ${rejectCodeName(this.code)} (${this.code}): ${this.reason}`
  }
}

/**
 * The link to the host could not be (re-)established: connection refused, no `Welcome` in time,
 * a `Welcome` that does not match what was asked (another host, another peer id), or the
 * reconnect window passed. The seam tears with `Unreachable` for these after a drop.
 */
export class HostUnreachable extends Data.TaggedError("HostUnreachable")<{
  readonly reason: string
}> {
  override get message() {
    return `host unreachable: ${this.reason}`
  }
}
