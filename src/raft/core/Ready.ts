/**
 * What one step of the core asks the shell to do, etcd's `Ready` (docs/ARCHITECTURE.md, "Raft"). The shell must
 * (1) write `persist` durably as one batch, (2) call `RaftCore.onPersisted()`, and only then
 * (3) send `messages` — messages may reveal a vote or acknowledge entries that depend on the
 * write. Then it publishes `committed`, completes `resolutions`, and emits `trace`.
 */
import type { ForwardOutcome, RaftMessage } from "./Messages.js"
import type { CommandEntry, LogEntry } from "./Entries.js"
import type { NodeId } from "./Ids.js"
import type { HardState, LeaderForTerm, StoredSnapshot } from "./Durable.js"
import type { MembershipResolution } from "./Membership.js"
import type { RaftMetric, RaftTraceEvent } from "./Events.js"

/**
 * Why a leadership transfer failed (thesis §3.10). Immediately: `InvalidTarget` (the target is this
 * node or not a voter) or `AlreadyInFlight`. Later: `TimedOut`, `Cancelled`, `ReElected`, `NodeClosed`.
 */
export type TransferFailureReason =
  | "InvalidTarget"
  | "AlreadyInFlight"
  | "TimedOut"
  | "Cancelled"
  | "ReElected"
  | "NodeClosed"

export interface Outbound {
  readonly to: NodeId
  readonly message: RaftMessage
}

/**
 * How a client request ends. Proposals end `Proposed`; reads end `Read` (the index to wait for);
 * transfers end `Transferred` or `TransferFailed`; any may end `NotLeader`/`LeadershipLost`, and a
 * transfer also `MembershipChangeInProgress`.
 */
export type Outcome =
  | { readonly _tag: "Proposed"; readonly entry: CommandEntry }
  | { readonly _tag: "NotLeader"; readonly leader: NodeId | undefined; readonly reason: string }
  | { readonly _tag: "LeadershipLost"; readonly reason: string }
  | { readonly _tag: "Read"; readonly index: number }
  | { readonly _tag: "Transferred" }
  | { readonly _tag: "TransferFailed"; readonly target: NodeId; readonly reason: TransferFailureReason }
  | { readonly _tag: "MembershipChangeInProgress" }

export interface Resolution {
  readonly handle: number
  readonly outcome: Outcome
}

/** The durable writes of one turn, in the storage contract's order. */
export interface PersistBatch {
  snapshot: StoredSnapshot | undefined
  truncateFrom: number | undefined
  append: Array<LogEntry>
  hardState: HardState | undefined
  leaderForTerm: LeaderForTerm | undefined
  discardThrough: number | undefined
}

export class Ready {
  persist: PersistBatch = emptyBatch()
  messages: Array<Outbound> = []
  committed: Array<LogEntry> = []
  /**
   * A snapshot this node installed from its leader during the step. It precedes every entry in
   * `committed` (which all lie above it): the consumer replaces its state with it first.
   */
  install: StoredSnapshot | undefined = undefined
  /** `changeMembership` requests that ended during the step. */
  membership: Array<MembershipResolution> = []
  resolutions: Array<Resolution> = []
  trace: Array<RaftTraceEvent> = []
  metrics: Array<RaftMetric> = []

  get hasPersist(): boolean {
    const p = this.persist
    return (
      p.snapshot !== undefined ||
      p.truncateFrom !== undefined ||
      p.append.length > 0 ||
      p.hardState !== undefined ||
      p.leaderForTerm !== undefined ||
      p.discardThrough !== undefined
    )
  }

  get isEmpty(): boolean {
    return (
      !this.hasPersist &&
      this.messages.length === 0 &&
      this.committed.length === 0 &&
      this.install === undefined &&
      this.membership.length === 0 &&
      this.resolutions.length === 0 &&
      this.trace.length === 0 &&
      this.metrics.length === 0
    )
  }

  /**
   * Makes this (consumed) Ready the next step's, keeping whatever it never used: every array that
   * holds something is replaced, not cleared, as someone may still hold it (a PubSub, a storage).
   */
  reset(): this {
    const p = this.persist
    if (
      p.snapshot !== undefined || p.truncateFrom !== undefined || p.append.length > 0 || p.hardState !== undefined ||
      p.leaderForTerm !== undefined || p.discardThrough !== undefined
    ) this.persist = emptyBatch()
    if (this.messages.length > 0) this.messages = []
    if (this.committed.length > 0) this.committed = []
    this.install = undefined
    if (this.membership.length > 0) this.membership = []
    if (this.resolutions.length > 0) this.resolutions = []
    if (this.trace.length > 0) this.trace = []
    if (this.metrics.length > 0) this.metrics = []
    return this
  }

  /** Records a truncation of the log from `from`, trimming entries appended earlier this turn. */
  truncate(from: number): void {
    const p = this.persist
    const firstPending = p.append.length > 0 ? p.append[0]!.index : Infinity
    if (from <= firstPending) {
      p.append.length = 0
      p.truncateFrom = p.truncateFrom === undefined ? from : Math.min(p.truncateFrom, from)
    } else {
      p.append.length = from - firstPending
    }
  }
}

export const emptyBatch = (): PersistBatch => ({
  snapshot: undefined,
  truncateFrom: undefined,
  append: [],
  hardState: undefined,
  leaderForTerm: undefined,
  discardThrough: undefined
})

export type { ForwardOutcome }
