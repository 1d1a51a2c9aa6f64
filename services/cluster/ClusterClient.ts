/**
 * The learner client's contract: a client of the server cluster proposes commands and observes the
 * committed log, without ever voting or counting toward a quorum. The constructors are
 * `clusterClient` (attaches through `ClusterEndpoints`, the production path) and
 * `clusterClientWithNode` (wraps a caller-managed node) in `src/cluster/ClusterClient.ts`.
 */
import type { Duration, Effect, Stream, Subscribable } from "effect"
import type { ClientId } from "../raft/ClientId.js"
import type { CommandEntry, Committed } from "../raft/LogEntry.js"
import type { NodeId } from "../raft/NodeId.js"
import type { PayloadTooLarge } from "../raft/RaftErrors.js"
import type { RaftRole } from "../raft/RaftRole.js"
import type { AdmissionRefused, ClientClosed, ProposeTimedOut } from "./ClusterErrors.js"

/** Where a client stands, for displays and tests. */
export interface ClusterClientStatus {
  /** `Connecting` to an endpoint, `Attached` to a server, `Closed`. */
  readonly link: "Connecting" | "Attached" | "Closed"
  /** The endpoint being tried or attached to. */
  readonly endpoint: string | undefined
  /** The server attached to (its voter id). */
  readonly server: string | undefined
  /** Whether the cluster admitted this client as a learner (`Refused`: the learner bound). */
  readonly admission: "Pending" | "Admitted" | "Refused"
  /** Times the client moved to another endpoint after a tear. */
  readonly failovers: number
  /** What the last failed attempt met. */
  readonly lastError: string | undefined
}

/**
 * Frames a client dropped: from someone other than its server (`droppedForeign`: another client of
 * the room), not for it or not from a voter (`droppedNotVoter`), undecodable (`droppedMalformed`),
 * sends while no server was attached (`droppedUnattached`).
 */
export interface ClusterClientCounters {
  readonly droppedForeign: number
  readonly droppedNotVoter: number
  readonly droppedMalformed: number
  readonly droppedUnattached: number
}

/** Options of one proposal. */
export interface ClusterProposeOptions {
  /**
   * The request id (with the client's identity, its dedup key). Omitted: the next one. Pass the
   * same id again to retry an unknown outcome exactly once; a client's request ids must grow
   * (the state machine's `ClientSessionTable` keeps a high-water mark).
   */
  readonly requestId?: number
  /** How long to keep trying (each attempt re-sends the same request id). Default 30 s. */
  readonly timeout?: Duration.DurationInput
}

/** What a cluster client offers; the tag is `ClusterClient` (`src/cluster/ClusterClient.ts`). */
export interface ClusterClientShape {
  /** The client's node id (its learner id in the membership and its peer id on the relay). */
  readonly id: NodeId
  /** The client id stamped on its proposals (the dedup identity). */
  readonly clientId: Effect.Effect<ClientId>
  /**
   * The committed log from its first entry: replay, then live (an `Install` first when the log was
   * compacted). Every client observes the same sequence; apply it through a `ClientSessionTable`
   * for exactly-once.
   */
  readonly committed: Stream.Stream<Committed>
  /** Always `Learner` once admitted. */
  readonly role: Subscribable.Subscribable<RaftRole>
  readonly status: Subscribable.Subscribable<ClusterClientStatus>
  /** Live counters of dropped frames (updated in place). */
  readonly counters: ClusterClientCounters
  /**
   * Proposes `command` and waits until it commits. One proposal at a time per client (calls queue
   * in order), each attempt re-sent with the same request id after a tear, a leader change or an
   * attempt timeout, so the command commits once whatever fails in between. Fails with
   * `ProposeTimedOut` (outcome unknown: retry with `requestId`), `AdmissionRefused` (the cluster
   * is full), `ClientClosed` or `PayloadTooLarge`.
   */
  readonly propose: (
    command: Uint8Array,
    options?: ClusterProposeOptions
  ) => Effect.Effect<CommandEntry, ProposeTimedOut | AdmissionRefused | ClientClosed | PayloadTooLarge>
  /** Leaves the cluster (idempotent): the server frees the slot at once; the learner is removed after the grace. */
  readonly close: Effect.Effect<void>
}
