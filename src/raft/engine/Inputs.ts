/**
 * What reaches the engine's mailbox: transport frames (when no fast path drains them), changes of
 * the transport's peer set, and API calls, each carrying the callback that resumes its caller. The
 * engine's fiber takes them at the start of a turn and hands them to the core (`Engine.handle`).
 */
import { Effect } from "effect"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { CommandEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { LeadershipLost, NotLeader } from "../../../services/raft/RaftErrors.js"
import type { PayloadTooLarge } from "../../../services/raft/RaftErrors.js"
import type { Outcome } from "../core/Ready.js"
import type { Watch } from "./Callers.js"
import type { ChangeResult } from "./MembershipRequests.js"
import type { Waiter } from "./Requests.js"

export type ProposeResult = Effect.Effect<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge>

/** A proposal on its way to the core; it then waits in `Calls` until resolved. */
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
  | { readonly _tag: "Frame"; readonly from: NodeId; readonly bytes: Uint8Array }
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
