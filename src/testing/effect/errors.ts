/**
 * Typed failures of the simulated cluster. Every one carries the cluster dump taken when it was
 * raised, and puts it in `message`, so a failing test prints the whole cluster state (roles,
 * terms, indices, node states, network, elections) instead of a bare "timed out".
 *
 * Typed errors rather than defects: a test that expects a wait to fail (the cluster must NOT
 * elect a leader in a minority) can `Effect.flip` or `catchTag` it; any other test fails with it.
 */
import { Data } from "effect"

/** A bounded wait (`awaitLeader`, `awaitCommit`, `awaitTrue`, `drive`, …) ran out of virtual time. */
export class SimulationTimeout extends Data.TaggedError("SimulationTimeout")<{
  /** What was awaited, in words. */
  readonly what: string
  /** The bound, in virtual milliseconds. */
  readonly withinMs: number
  /** `dumpState` at the moment of the timeout. */
  readonly dump: string
}> {
  override get message() {
    return `timed out after ${this.withinMs} virtual ms waiting for ${this.what}\n${this.dump}`
  }
}

/** `checkInvariants` found a safety violation (two leaders in a term, diverging committed entries, …). */
export class InvariantViolation extends Data.TaggedError("InvariantViolation")<{
  readonly violations: ReadonlyArray<string>
  readonly dump: string
}> {
  override get message() {
    return `invariant violated:\n  - ${this.violations.join("\n  - ")}\n${this.dump}`
  }
}

/** `checkChurn` saw more elections than allowed in some window (the cluster thrashes). */
export class ChurnDetected extends Data.TaggedError("ChurnDetected")<{
  /** Elections (term-bumping campaigns) counted in the worst window. */
  readonly elections: number
  readonly maxElections: number
  /** The window, in virtual milliseconds, and where the worst one started. */
  readonly windowMs: number
  readonly windowStart: number
  readonly dump: string
}> {
  override get message() {
    return `churn: ${this.elections} elections within ${this.windowMs} virtual ms from t=${this.windowStart} ` +
      `(at most ${this.maxElections} allowed)\n${this.dump}`
  }
}
