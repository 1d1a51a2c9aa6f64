/**
 * Typed failures of the Seam contract (docs/ARCHITECTURE.md, "Seams"). Every one is a `Data.TaggedError`, so callers
 * can `Effect.catchTag` them.
 */
import { Data } from "effect"
import type { PeerId } from "./PeerId.js"
import type { CloseReason } from "./SeamState.js"

/** `sendTo` named a peer that is not in `peers` right now. */
export class PeerNotConnected extends Data.TaggedError("PeerNotConnected")<{
  readonly peer: PeerId
}> {
  override get message() {
    return `peer ${this.peer} is not connected`
  }
}

/**
 * A payload larger than the seam's budget. `budgetBytes` is the most the caller may send on this
 * seam; `reservedBytes` is what the layer keeps for its own header beyond that (informational: a mux
 * view over a 1000-byte seam reports a budget of 999 and reserves 1).
 */
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{
  readonly payloadBytes: number
  readonly budgetBytes: number
  readonly reservedBytes: number
}> {
  override get message() {
    return `payload of ${this.payloadBytes} bytes exceeds the budget of ${this.budgetBytes} bytes (${this.reservedBytes} reserved)`
  }
}

/** The seam is `Torn`; nothing can be sent any more. */
export class SeamTorn extends Data.TaggedError("SeamTorn")<{
  readonly reason: CloseReason
}> {
  override get message() {
    return `seam is torn (${this.reason._tag})`
  }
}

/** A loom could not weave a seam (no such session, room full, duplicate id, second host...). */
export class WeaveFailed extends Data.TaggedError("WeaveFailed")<{
  readonly reason: string
}> {}

/**
 * Raised (as a defect: it is a programming error, not a runtime condition) when a seam's
 * `incoming` is collected a second time. Single collection is part of the contract.
 */
export class IncomingAlreadyCollected extends Data.TaggedError("IncomingAlreadyCollected")<{
  readonly selfId: PeerId
}> {
  override get message() {
    return `incoming of seam ${this.selfId} was already collected; a seam has exactly one collector`
  }
}

/**
 * A delivery queue under the `Strict` policy overflowed. It is the reason carried by the receiving
 * seam's `Torn(Error)` state: strict delivery makes an overwhelmed consumer visible instead of
 * silently dropping or stalling.
 */
export class FrameOverflow extends Data.TaggedError("FrameOverflow")<{
  readonly from: PeerId
  readonly to: PeerId
  readonly capacity: number
}> {}

/** Everything `Seam.sendTo` can fail with. */
export type SendError = PeerNotConnected | PayloadTooLarge | SeamTorn
