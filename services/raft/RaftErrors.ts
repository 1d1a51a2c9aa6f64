/**
 * Typed failures of the Raft service (`services/raft/RaftNode.ts`). `PayloadTooLarge` is shared with the Seam
 * contract: the numbers mean the same thing at both levels.
 */
import { Data } from "effect"
import type { ClientId } from "./ClientId.js"
import type { NodeId } from "./NodeId.js"

export { PayloadTooLarge } from "../seam/SeamErrors.js"

/** This node cannot serve the call as it is not the leader (or it is closed, or transferring). */
export class NotLeader extends Data.TaggedError("NotLeader")<{
  /** The leader this node believes in, when it knows one: a hint for redirection. */
  readonly leader: NodeId | undefined
  readonly reason: string
}> {
  override get message() {
    return `not leader: ${this.reason}`
  }
}

/**
 * The node already has `limit` proposals in flight (`RaftConfig.maxPendingProposals`) and the
 * caller asked not to wait (`ProposeOptions.whenOverloaded: "fail"`). Nothing entered the log:
 * retry later, or propose with the default `"wait"` to queue for admission instead.
 */
export class Overloaded extends Data.TaggedError("Overloaded")<{
  readonly limit: number
}> {
  override get message() {
    return `overloaded: ${this.limit} proposals already in flight on this node`
  }
}

/**
 * Leadership was lost while the call was in flight. The proposal may or may not commit later:
 * retry with the same `requestId` to stay exactly-once.
 */
export class LeadershipLost extends Data.TaggedError("LeadershipLost")<{
  readonly reason: string
}> {
  override get message() {
    return `leadership lost: ${this.reason}`
  }
}

/** A `RaftConfig` or bootstrap configuration that cannot work. */
export class RaftConfigError extends Data.TaggedError("RaftConfigError")<{
  readonly reason: string
}> {
  override get message() {
    return `invalid raft configuration: ${this.reason}`
  }
}

/** Durable state that contradicts itself; the node refuses to start on it. */
export class CorruptDurableState extends Data.TaggedError("CorruptDurableState")<{
  readonly reason: string
}> {
  override get message() {
    return `corrupt durable state: ${this.reason}`
  }
}

/** The storage failed a read or write. A node whose write failed stops (fail-stop). */
export class StorageError extends Data.TaggedError("StorageError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return `storage failure: ${this.reason}`
  }
}

/** A membership change is pending (or the last config entry is uncommitted, or joint). */
export class MembershipChangeInProgress extends Data.TaggedError("MembershipChangeInProgress")<{}> {
  override get message() {
    return "a membership change is already in progress; wait for it to commit before starting another"
  }
}

/** A requested membership cannot work (no voters, ...). */
export class InvalidMembership extends Data.TaggedError("InvalidMembership")<{
  readonly reason: string
}> {}

/**
 * Why a leadership transfer failed. Immediately: `InvalidTarget` (the target is this node or not a
 * voter) or `AlreadyInFlight` (another transfer is pending). Later: `TimedOut` (the target was not
 * confirmed within `electionTimeoutMax`), `Cancelled` (`cancelTransfer`, or the caller was
 * interrupted), `ReElected` (this node won an election before the target was confirmed),
 * `NodeClosed`.
 */
export type TransferFailureReason =
  | "InvalidTarget"
  | "AlreadyInFlight"
  | "TimedOut"
  | "Cancelled"
  | "ReElected"
  | "NodeClosed"

/** A leadership transfer (thesis §3.10) did not hand leadership to `target`. */
export class LeadershipTransferFailed extends Data.TaggedError("LeadershipTransferFailed")<{
  readonly target: NodeId
  readonly reason: TransferFailureReason
}> {
  override get message() {
    return `leadership transfer to ${this.target} failed: ${this.reason}`
  }
}

/** Two live writers share one durable `ClientId`: an operational error, fatal to the node. */
export class ClientIdCollision extends Data.TaggedError("ClientIdCollision")<{
  readonly clientId: ClientId
}> {
  override get message() {
    return `another live writer uses the durable client id ${this.clientId}`
  }
}
