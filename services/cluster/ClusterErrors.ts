/**
 * Typed failures of the server cluster and its clients (`services/cluster/ClusterClient.ts`,
 * `src/cluster`). Every one is a `Data.TaggedError`, so callers can `Effect.catchTag` them.
 */
import { Data } from "effect"

/** Why the cluster refused to admit a client as a learner. */
export type AdmissionRefusal =
  /** The cluster holds its bound of learners (`maxLearners`); retry later or raise the bound. */
  | "LearnerLimit"

/**
 * The cluster refused to admit this client as a learner (`reason`); `limit` is the bound that was
 * reached. The client stays attached and is admitted as soon as the cluster has room again.
 */
export class AdmissionRefused extends Data.TaggedError("AdmissionRefused")<{
  readonly reason: AdmissionRefusal
  readonly limit: number
}> {
  override get message() {
    return `admission refused (${this.reason}): the cluster holds its bound of ${this.limit} learners`
  }
}

/**
 * No endpoint of the list admitted this client within the time given (`ClusterClientOptions`'s
 * `admissionTimeout`); `lastError` says what the last attempt met.
 */
export class ClusterUnreachable extends Data.TaggedError("ClusterUnreachable")<{
  readonly reason: string
  readonly lastError: string | undefined
}> {
  override get message() {
    return `cluster unreachable: ${this.reason}${this.lastError === undefined ? "" : ` (last error: ${this.lastError})`}`
  }
}

/**
 * A proposal was not answered within its `timeout` (over `attempts` attempts, each retried with the
 * same `requestId`). The outcome is unknown: it may still commit. Retry with the same `requestId`
 * to stay exactly-once.
 */
export class ProposeTimedOut extends Data.TaggedError("ProposeTimedOut")<{
  readonly requestId: number
  readonly attempts: number
}> {
  override get message() {
    return `proposal ${this.requestId} not answered after ${this.attempts} attempt(s); its outcome is unknown (retry with the same requestId)`
  }
}

/** The client was closed (or its node stopped); nothing more can be proposed through it. */
export class ClientClosed extends Data.TaggedError("ClientClosed")<{ readonly reason: string }> {
  override get message() {
    return `cluster client closed: ${this.reason}`
  }
}

/** A `ClusterEndpoints` list that cannot work (empty, a malformed URL, a duplicate). */
export class InvalidEndpoints extends Data.TaggedError("InvalidEndpoints")<{ readonly reason: string }> {
  override get message() {
    return `invalid cluster endpoints: ${this.reason}`
  }
}

/**
 * A server cluster could not start: bad options, a voter list it cannot run, a port it cannot
 * listen on, storage that cannot open, a secret too short.
 */
export class ServerClusterError extends Data.TaggedError("ServerClusterError")<{ readonly reason: string }> {
  override get message() {
    return `server cluster: ${this.reason}`
  }
}
