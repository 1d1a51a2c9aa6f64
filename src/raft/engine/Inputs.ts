/**
 * What the engine puts in the drive loop's input queue (`Driver.inputs`): the `DriverInput`s, the
 * API calls among them carrying the callback that resumes their caller. The loop hands them to the
 * core at its next turn; the engine's ports (`Engine.ts`) record the callers that then wait.
 */
import { Effect } from "effect"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { CommandEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { LeadershipLost, NotLeader } from "../../../services/raft/RaftErrors.js"
import type { Overloaded, PayloadTooLarge } from "../../../services/raft/RaftErrors.js"
import type { Outcome } from "../core/Ready.js"
import type { Watch } from "./Callers.js"
import type { ChangeResult } from "./MembershipRequests.js"
import type { Waiter } from "./Requests.js"

export type ProposeResult = Effect.Effect<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge | Overloaded>

/** A proposal on its way to the core; it waits in `Calls` until resolved. */
export interface ProposeInput {
  readonly _tag: "Propose"
  readonly handle: number
  readonly command: Uint8Array
  readonly requestId: number | undefined
  /** Resumes the caller; answer through `answer`, which also releases `watch`. */
  readonly resume: (result: ProposeResult) => void
  /** The caller's fiber watch (`Callers`), or undefined when a canceler is used instead. */
  readonly watch: Watch | undefined
  /** Clock time the core accepted it (for the commit-latency metric). */
  startedAt: number
}

export type Input =
  | ProposeInput
  | { readonly _tag: "Cancel"; readonly handle: number }
  | { readonly _tag: "Read"; readonly handle: number; readonly mode: "Leader" | "Fence"; readonly waiter: Waiter }
  | { readonly _tag: "Transfer"; readonly handle: number; readonly target: NodeId; readonly waiter: Waiter }
  | { readonly _tag: "CancelTransfer" }
  | {
    readonly _tag: "ChangeMembership"
    readonly handle: number
    readonly target: ClusterConfig
    readonly resume: (result: ChangeResult) => void
  }
  | { readonly _tag: "PublishSnapshot"; readonly throughIndex: number; readonly state: Uint8Array }
  /** The transport's peer set changed (forwards to a departed peer fail). */
  | { readonly _tag: "Peers"; readonly peers: ReadonlySet<NodeId> }


/** Answers a proposal's caller. */
export const answer = (p: ProposeInput, result: ProposeResult): void => {
  p.watch?.release(p.handle)
  p.resume(result)
}

/** A proposal's outcome, as its caller's result. */
export const toResult = (o: Outcome): ProposeResult => {
  switch (o._tag) {
    case "Proposed":
      return Effect.succeed(o.entry)
    case "NotLeader":
      return Effect.fail(new NotLeader({ leader: o.leader, reason: o.reason }))
    case "LeadershipLost":
      return Effect.fail(new LeadershipLost({ reason: o.reason }))
    case "Read":
    case "Transferred":
    case "TransferFailed":
    case "MembershipChangeInProgress":
      return Effect.dieMessage(`a proposal resolved with unexpected outcome ${o._tag}`)
  }
}
