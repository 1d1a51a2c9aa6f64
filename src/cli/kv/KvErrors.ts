/**
 * Why a key-value request failed, as the `kuilt` command's server answers it (each maps to one
 * HTTP status in `src/dashboard/Api.ts` and to one exit code in the command).
 */
import { Data } from "effect"

/** No running node can serve the request here (stopped, failed, or none started yet). Retry elsewhere. */
export class KvUnavailable extends Data.TaggedError("KvUnavailable")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/**
 * The write was proposed but its outcome is unknown (the leader lost its term, or the wait ran
 * out): it may still commit. Retry with the same request id to apply it exactly once.
 */
export class OutcomeUnknown extends Data.TaggedError("OutcomeUnknown")<{ readonly reason: string }> {
  override get message() {
    return `outcome unknown: ${this.reason}`
  }
}

/** The command is larger than the cluster's payload budget; nothing entered the log. */
export class CommandTooLarge extends Data.TaggedError("CommandTooLarge")<{ readonly bytes: number; readonly budget: number }> {
  override get message() {
    return `the command is ${this.bytes} bytes; the cluster carries at most ${this.budget}`
  }
}

/** A request the store refuses as malformed (an empty or oversized key, ...). */
export class BadRequest extends Data.TaggedError("BadRequest")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** A watch asked for changes older than the store still holds (compacted or dropped). */
export class WatchCompacted extends Data.TaggedError("WatchCompacted")<{ readonly from: number; readonly first: number }> {
  override get message() {
    return `changes before index ${this.first} are no longer available (asked from ${this.from})`
  }
}
