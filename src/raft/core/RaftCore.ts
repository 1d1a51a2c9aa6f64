/**
 * The Raft protocol core: a deterministic, synchronous state machine with no Effect, no I/O and
 * no clock (docs/ARCHITECTURE.md, "Raft"). Inputs are method calls carrying `now` (ms, from the
 * shell's Clock); outputs accumulate in a `Ready` that the shell takes, persists, acknowledges and
 * sends — etcd's `RawNode`.
 *
 * This file is the node's front door: the entry points the shell calls (frames, ticks, client
 * requests, the end of a turn, the storage's acknowledgement) and the persistence bookkeeping that
 * enforces "no reply before the write it depends on". The state is `NodeState`; the steps that
 * change it are `Dispatch` (frames), `Timers`, `Proposals`, `Requests` and `Turn`, built on
 * `Leader`, `Follower`, `Voting`, `LocalLog` and `Roles`; they apply what the leaf modules decide.
 */
import type { IdentityKind } from "./DedupCache.js"
import { highestOwnSerial } from "./DedupCache.js"
import type { DurableState } from "./Durable.js"
import type { LogEntry, Members } from "./Entries.js"
import type { ClientId, NodeId } from "./Ids.js"
import * as Dispatch from "./Dispatch.js"
import { maybeCommit } from "./Leader.js"
import { recomputeConfig } from "./LocalLog.js"
import type { RaftMessage } from "./Messages.js"
import { NodeState } from "./NodeState.js"
import type { Prng } from "./Prng.js"
import * as Proposals from "./Proposals.js"
import type { Oversize } from "./Forwarding.js"
import { Ready } from "./Ready.js"
import * as Requests from "./Requests.js"
import { campaign, resetElectionTimer } from "./Roles.js"
import { cut } from "./Snapshots.js"
import type { Cut } from "./Snapshots.js"
import * as Timers from "./Timers.js"
import { endTurn } from "./Turn.js"
import type { RaftConfig } from "./Tuning.js"
import { HEADER_RESERVE } from "./constants.js"

export { HEADER_RESERVE }

export interface CoreOptions {
  readonly id: NodeId
  readonly config: RaftConfig
  /** The configuration used until the log or a snapshot says otherwise. */
  readonly bootstrap: Members
  readonly durable: DurableState
  readonly rng: Prng
  readonly clientId: ClientId
  /** How `clientId` was chosen: a shared `Durable` id is fatal, a shared `Auto` id is re-minted. Default `Auto`. */
  readonly identity?: IdentityKind
  /** Exact wire size of an entry inside an AppendEntries (from the codec). */
  readonly entrySize: (entry: LogEntry) => number
  readonly now: number
  /**
   * The nodes a joiner trusts while its configuration has no voters: their leader frames are
   * accepted and they are asked to vouch for a leader it does not know (see `Trust.ts`).
   */
  readonly joinVia?: Iterable<NodeId>
}

export class RaftCore extends NodeState {
  constructor(options: CoreOptions) {
    super(options)
    recomputeConfig(this)
    this.serial = highestOwnSerial(this.log, this.clientId)
    this.role = this.isVoter ? "Follower" : "Learner"
    resetElectionTimer(this)
    // A lone voter needs nobody's permission: lead at once (original: "single voter skips both phases").
    if (this.isSoleVoter) campaign(this, false)
  }

  /** The earliest time the shell must call `tick`; see `Timers.nextDeadline`. */
  nextDeadline(): number {
    return Timers.nextDeadline(this)
  }

  // ---------------------------------------------------------------- inputs

  /** Fires every timer due at `now`; see `Timers.tick`. */
  tick(now: number): void {
    this.now = now
    Timers.tick(this)
  }

  /** Handles one decoded frame from `from` (already known to be a well-formed message); see `Dispatch.receive`. */
  receive(from: NodeId, message: RaftMessage, now: number): void {
    this.now = now
    Dispatch.receive(this, from, message)
  }

  /** Proposes a command; see `Proposals.propose`. */
  propose(handle: number, command: Uint8Array, requestId: number | undefined, now: number): Oversize | undefined {
    this.now = now
    return Proposals.propose(this, handle, command, requestId)
  }

  /** The caller of `handle` gave up: never send it if parked, ignore its answer otherwise. */
  cancel(handle: number): void {
    Proposals.cancel(this, handle)
    Requests.cancel(this, handle)
  }

  /**
   * The transport's peer set changed to `peers`: forwards sent to a peer no longer in it fail
   * with `LeadershipLost`; see `Proposals.onPeers`.
   */
  peersChanged(peers: ReadonlySet<NodeId>, now: number): void {
    this.now = now
    Proposals.onPeers(this, peers)
  }

  /** A linearizable read on the leader (`NotLeader` elsewhere); see `Requests.readIndex`. */
  readIndex(handle: number, now: number): void {
    this.now = now
    Requests.readIndex(this, handle)
  }

  /** A read fence from any role (a follower asks its leader); see `Requests.readFence`. */
  readFence(handle: number, now: number): void {
    this.now = now
    Requests.readFence(this, handle)
  }

  /** Starts a leadership transfer to `target` (thesis §3.10); see `Requests.startTransfer`. */
  transferLeadership(handle: number, target: NodeId, now: number): void {
    this.now = now
    Requests.startTransfer(this, handle, target)
  }

  /**
   * The consumer published its state through `throughIndex`: compact the log (§7) when
   * `snapshotIndex < throughIndex ≤ lastEmitted`; see `Requests.compact`. Returns whether it did.
   */
  compact(throughIndex: number, state: Uint8Array, now: number): boolean {
    this.now = now
    return Requests.compact(this, throughIndex, state)
  }

  /** Starts a membership change (§6); the outcome arrives in `Ready.membership`. See `Requests.changeMembership`. */
  changeMembership(handle: number, target: Members, now: number): void {
    this.now = now
    Requests.changeMembership(this, handle, target)
  }

  /** The replay for `committedFrom(fromIndex)`: an `Install` first when at or below the floor. */
  committedFrom(fromIndex: number): Cut {
    return cut(this, fromIndex)
  }

  /** Abandons a pending transfer as `Cancelled` (a no-op when none is pending). */
  cancelTransfer(now: number): void {
    this.now = now
    Requests.cancelTransfer(this)
  }

  /**
   * Hands over everything accumulated since the last call, after the turn's deferred work
   * (`Turn.endTurn`: a turn's proposals travel in one AppendEntries). `done`: a Ready the shell
   * has finished with, reused for the next step instead of a new one.
   */
  takeReady(done?: Ready): Ready {
    endTurn(this)
    const out = this.ready
    this.ready = done !== undefined && done !== out ? done.reset() : new Ready()
    this.pendingDurableLast = this.log.lastIndex
    return out
  }

  /** The shell wrote the last `Ready.persist` durably. */
  onPersisted(): void {
    this.durableLast = Math.min(this.pendingDurableLast, this.log.lastIndex)
    if (this.role === "Leader") maybeCommit(this)
  }
}
