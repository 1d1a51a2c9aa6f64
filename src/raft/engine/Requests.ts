/**
 * Callers of the engine's non-proposal requests (reads, leadership transfer): how the core's
 * `Outcome` for a handle becomes the caller's typed result, and what the caller gets when the
 * node closes first. Kept apart from `Engine.ts` so each request kind owns its error mapping.
 */
import { Effect } from "effect"
import type { NodeId } from "../../../services/raft/NodeId.js"
import {
  LeadershipLost,
  LeadershipTransferFailed,
  MembershipChangeInProgress,
  NotLeader
} from "../../../services/raft/RaftErrors.js"
import type { Outcome } from "../core/Ready.js"

/** One waiting caller. */
export interface Waiter {
  /** The core resolved the request. */
  readonly complete: (outcome: Outcome) => void
  /** The node closed after the request reached the core. */
  readonly close: (reason: string) => void
  /** The node was closed before the request reached the core. */
  readonly rejectClosed: () => void
}

export type ReadResult = Effect.Effect<number, NotLeader | LeadershipLost>
export type TransferResult = Effect.Effect<void, NotLeader | MembershipChangeInProgress | LeadershipTransferFailed>

const closedNotLeader = () => Effect.fail(new NotLeader({ leader: undefined, reason: "node is closed" }))

const unexpected = (what: string, o: Outcome) => Effect.dieMessage(`${what} resolved with unexpected outcome ${o._tag}`)

/** A read (readIndex or readFence): `Read(index)` succeeds with the index to apply through. */
export const readWaiter = (resume: (r: ReadResult) => void): Waiter => ({
  complete: (o) => {
    switch (o._tag) {
      case "Read":
        return resume(Effect.succeed(o.index))
      case "NotLeader":
        return resume(Effect.fail(new NotLeader({ leader: o.leader, reason: o.reason })))
      case "LeadershipLost":
        return resume(Effect.fail(new LeadershipLost({ reason: o.reason })))
      case "Proposed":
      case "Transferred":
      case "TransferFailed":
      case "MembershipChangeInProgress":
        return resume(unexpected("a read", o))
    }
  },
  close: (reason) => resume(Effect.fail(new LeadershipLost({ reason }))),
  rejectClosed: () => resume(closedNotLeader())
})

/** A leadership transfer to `target`. */
export const transferWaiter = (target: NodeId, resume: (r: TransferResult) => void): Waiter => ({
  complete: (o) => {
    switch (o._tag) {
      case "Transferred":
        return resume(Effect.void)
      case "TransferFailed":
        return resume(Effect.fail(new LeadershipTransferFailed({ target: o.target, reason: o.reason })))
      case "NotLeader":
        return resume(Effect.fail(new NotLeader({ leader: o.leader, reason: o.reason })))
      case "MembershipChangeInProgress":
        return resume(Effect.fail(new MembershipChangeInProgress()))
      case "Proposed":
      case "Read":
      case "LeadershipLost":
        return resume(unexpected("a leadership transfer", o))
    }
  },
  close: () => resume(Effect.fail(new LeadershipTransferFailed({ target, reason: "NodeClosed" }))),
  rejectClosed: () => resume(closedNotLeader())
})
