/**
 * The Raft protocol core: a deterministic, synchronous state machine with no Effect, no I/O and
 * no clock (docs/ARCHITECTURE.md, "Raft"). Inputs are method calls carrying `now` (ms, from the shell's Clock);
 * outputs accumulate in a `Ready` that the shell takes, persists, acknowledges and sends.
 *
 * Decisions live in small modules beside this file (elections, replication, the follower's
 * append, forwarding, ...), and so do message dispatch (`Dispatch`), timers (`Timers`), role
 * transitions (`Roles`) and changes to the local log (`LocalLog`). This file holds the state they
 * share, the entry points the shell calls (frames, ticks, client requests), and the persistence
 * bookkeeping that enforces "no reply before the write it depends on".
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { RaftRole } from "../../../services/raft/RaftRole.js"
import type { DurableState, LeaderForTerm, StoredSnapshot } from "../../../services/raft/RaftStorage.js"
import { RaftMetric, RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RaftMessageType, RefusalGate } from "../../../services/raft/RaftTrace.js"
import { HEADER_RESERVE } from "./constants.js"
import * as DedupCache from "./DedupCache.js"
import * as Dispatch from "./Dispatch.js"
import * as Elections from "./Elections.js"
import * as Forwarding from "./Forwarding.js"
import { emitCommitted, recomputeConfig } from "./LocalLog.js"
import type { Prng } from "./Prng.js"
import type { Progress } from "./Progress.js"
import { allVoters } from "./Quorum.js"
import { RaftLog } from "./RaftLog.js"
import * as ReadIndex from "./ReadIndex.js"
import { Ready } from "./Ready.js"
import * as Replication from "./Replication.js"
import * as Membership from "./Membership.js"
import type * as SnapshotReceive from "./SnapshotReceive.js"
import * as Snapshots from "./Snapshots.js"
import * as Timers from "./Timers.js"
import * as Transfer from "./Transfer.js"
import * as Trust from "./Trust.js"
import * as Wedge from "./Wedge.js"

export { HEADER_RESERVE }

export interface CoreOptions {
  readonly id: NodeId
  readonly config: RaftConfig
  /** The configuration used until the log or a snapshot says otherwise. */
  readonly bootstrap: ClusterConfig
  readonly durable: DurableState
  readonly rng: Prng
  readonly clientId: ClientId
  /** How `clientId` was chosen: a shared `Durable` id is fatal, a shared `Auto` id is re-minted. Default `Auto`. */
  readonly identity?: DedupCache.IdentityKind
  /** Exact wire size of an entry inside an AppendEntries (from the codec). */
  readonly entrySize: (entry: LogEntry) => number
  readonly now: number
  /**
   * The nodes a joiner trusts while its configuration has no voters: their leader frames are
   * accepted and they are asked to vouch for a leader it does not know (see `Trust.ts`).
   */
  readonly joinVia?: Iterable<NodeId>
}

export class RaftCore {
  readonly id: NodeId
  readonly cfg: RaftConfig
  readonly rng: Prng
  readonly entrySize: (entry: LogEntry) => number
  readonly bootstrap: ConfigPayload
  /** Whom a joiner trusts while its configuration has no voters (`Trust.ts`). */
  readonly joinVia: ReadonlySet<NodeId>
  /** The transport's current budget; `undefined` = unknown (no cut beyond maxBatchEntries). */
  maxPayload: number | undefined = undefined
  /**
   * Whether anyone reads `Ready.trace` (and the per-proposal `ProposeAccepted` metrics): the shell
   * clears these while its streams have no subscriber, and the core then skips the per-entry
   * events nobody would see. Every decision is the same either way.
   */
  tracing = true
  metering = true

  // Persistent state (Figure 2), mirrored in storage.
  term = 0
  votedFor: NodeId | null = null
  leaderForTerm: LeaderForTerm | null = null
  readonly log = new RaftLog()

  // Volatile state.
  role: RaftRole = "Follower"
  leader: NodeId | undefined = undefined
  commitIndex = 0
  /** Highest index handed to the consumer through `Ready.committed`. */
  lastEmitted = 0
  /** Membership in force: the latest config entry in the log, else the snapshot's, else bootstrap. */
  config: ConfigPayload
  configIndex = 0
  snapshotConfig: ConfigPayload | undefined = undefined
  /** Last index known durable in local storage (counts toward the leader's own match). */
  durableLast = 0
  private pendingDurableLast = 0

  // Timers (absolute ms on the shell's clock).
  now: number
  electionDeadline = Infinity
  heartbeatDeadline = Infinity
  checkQuorumDeadline = Infinity
  /** When a leader last contacted us; stickiness (§4.2.3) denies votes until + electionTimeoutMin. */
  leaderContactAt = -Infinity

  // Candidate / pre-candidate.
  preVote: { round: number; proposedTerm: number; granted: Set<NodeId> } | undefined = undefined
  votes = new Set<NodeId>()
  roundCounter = 0

  // Leader.
  readonly progress = new Map<NodeId, Progress>()
  readonly pendingLocal = new Map<number, number>()
  readonly pendingForwarded = new Map<number, { from: NodeId; clientRequestId: number }>()
  /** Entries were appended since the last flush: replicate at the end of the turn (batching). */
  dirty = false
  electionStartedAt = 0

  // Client identity and forwarding.
  clientId: ClientId
  serial = 0
  readonly parked: Array<Forwarding.Parked> = []
  readonly forwards = new Map<number, Forwarding.InFlight>()
  /** The term and leader `forwards` were last checked against (`Forwarding.failStranded`). */
  forwardsTerm = 0
  forwardsLeader: NodeId | undefined = undefined
  /** The transport's peer set as last reported (`peersChanged`); `undefined` until then. */
  transportPeers: ReadonlySet<NodeId> | undefined = undefined

  // Reads (ReadIndex.ts), leadership transfer (Transfer.ts), exactly-once (DedupCache.ts).
  readonly reads = new ReadIndex.ReadState()
  transfer: Transfer.PendingTransfer | undefined = undefined
  readonly dedup = new DedupCache.LeaderDedupCache()
  readonly collisions: DedupCache.CollisionDetector

  // The membership gate's vouching (Trust.ts) and wedge suspicion (Wedge.ts).
  readonly vouch = new Trust.VouchState()
  readonly wedge: Wedge.WedgeState

  // Snapshots (Snapshots.ts, SnapshotReceive.ts) and membership changes (Membership.ts).
  /** The latest snapshot, kept in memory to stream to lagging followers and to replay in `committedFrom`. */
  snapshot: StoredSnapshot | undefined = undefined
  /** A snapshot being received in chunks. */
  reassembly: SnapshotReceive.Reassembly | undefined = undefined
  /** The leader's membership change in flight. */
  membershipChange: Membership.PendingChange | undefined = undefined

  ready = new Ready()

  constructor(options: CoreOptions) {
    this.id = options.id
    this.cfg = options.config
    this.rng = options.rng
    this.entrySize = options.entrySize
    this.clientId = options.clientId
    this.now = options.now
    this.joinVia = new Set(options.joinVia ?? [])
    this.wedge = new Wedge.WedgeState(options.now)
    this.bootstrap = new ConfigPayload({ new: options.bootstrap })
    this.config = this.bootstrap
    this.restore(options.durable)
    this.collisions = new DedupCache.CollisionDetector(options.identity ?? "Auto", this.term)
    this.serial = DedupCache.highestOwnSerial(this)
    this.role = this.isVoter ? "Follower" : "Learner"
    Timers.resetElectionTimer(this)
    // A lone voter needs nobody's permission: lead at once (original: "single voter skips both phases").
    if (this.isSoleVoter) Elections.campaign(this, false)
  }

  private restore(d: DurableState): void {
    this.term = d.hardState.term
    this.votedFor = d.hardState.votedFor
    this.leaderForTerm = d.leaderForTerm !== null && d.leaderForTerm.term === this.term ? d.leaderForTerm : null
    if (d.snapshot !== null) {
      const m = d.snapshot.meta
      this.log.reset(m.lastIncludedIndex, m.lastIncludedTerm)
      this.snapshotConfig = m.config
      this.snapshot = d.snapshot
      // Commit is not persisted: the snapshot is the committed floor we can prove (original §1.4).
      this.commitIndex = m.lastIncludedIndex
      this.lastEmitted = m.lastIncludedIndex
    }
    this.log.append(d.entries)
    this.durableLast = this.log.lastIndex
    this.pendingDurableLast = this.durableLast
    recomputeConfig(this)
  }

  // ---------------------------------------------------------------- queries

  get isVoter(): boolean {
    return allVoters(this.config).has(this.id)
  }

  get isSoleVoter(): boolean {
    return this.config.old === undefined && this.config.new.voters.size === 1 && this.config.new.voters.has(this.id)
  }

  /** Leader stickiness: a leader is alive if we are it or heard from it within electionTimeoutMin. */
  leaderAlive(): boolean {
    return this.role === "Leader" || this.now < this.leaderContactAt + this.cfg.electionTimeoutMin
  }

  /** The earliest time the shell must call `tick`; see `Timers.nextDeadline`. */
  nextDeadline(): number {
    return Timers.nextDeadline(this)
  }

  /** Budget for entries in one AppendEntries. */
  entryBudget(): number {
    return this.maxPayload === undefined ? Infinity : Math.max(1, this.maxPayload - HEADER_RESERVE)
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

  /** Proposes a command; see `Forwarding.propose`. */
  propose(handle: number, command: Uint8Array, requestId: number | undefined, now: number) {
    this.now = now
    return Forwarding.propose(this, handle, command, requestId)
  }

  /** The caller of `handle` gave up: never send it if parked, ignore its answer otherwise. */
  cancel(handle: number): void {
    Forwarding.cancel(this, handle)
    ReadIndex.cancel(this, handle)
    Transfer.cancelHandle(this, handle)
  }

  /**
   * The transport's peer set changed to `peers`: forwards sent to a peer no longer in it fail
   * with `LeadershipLost`; see `Forwarding.onPeers`.
   */
  peersChanged(peers: ReadonlySet<NodeId>, now: number): void {
    this.now = now
    Forwarding.onPeers(this, peers)
  }

  /** A linearizable read on the leader (`NotLeader` elsewhere); see `ReadIndex.readIndex`. */
  readIndex(handle: number, now: number): void {
    this.now = now
    ReadIndex.readIndex(this, handle)
  }

  /** A read fence from any role (a follower asks its leader); see `ReadIndex.readFence`. */
  readFence(handle: number, now: number): void {
    this.now = now
    ReadIndex.readFence(this, handle)
  }

  /** Starts a leadership transfer to `target` (thesis §3.10); see `Transfer.start`. */
  transferLeadership(handle: number, target: NodeId, now: number): void {
    this.now = now
    Transfer.start(this, handle, target)
  }

  /**
   * The consumer published its state through `throughIndex`: compact the log (§7) when
   * `snapshotIndex < throughIndex ≤ lastEmitted`; see `Snapshots.compact`. Returns whether it did.
   */
  compact(throughIndex: number, state: Uint8Array, now: number): boolean {
    this.now = now
    return Snapshots.compact(this, throughIndex, state)
  }

  /** Starts a membership change (§6); the outcome arrives in `Ready.membership`. See `Membership.request`. */
  changeMembership(handle: number, target: ClusterConfig, now: number): void {
    this.now = now
    Membership.request(this, handle, target)
  }

  /** The replay for `committedFrom(fromIndex)`: an `Install` first when at or below the floor. */
  committedFrom(fromIndex: number): Snapshots.Cut {
    return Snapshots.cut(this, fromIndex)
  }

  /** Abandons a pending transfer as `Cancelled` (a no-op when none is pending). */
  cancelTransfer(now: number): void {
    this.now = now
    Transfer.cancel(this)
  }

  /**
   * Hands over everything accumulated since the last call. Replication of entries appended
   * during the turn happens here, so a turn's proposals travel in one AppendEntries. `done`: a
   * Ready the shell has finished with, reused for the next step instead of a new one.
   */
  takeReady(done?: Ready): Ready {
    Membership.onTurnEnd(this)
    Forwarding.failStranded(this)
    Forwarding.flushParked(this)
    ReadIndex.flush(this)
    if (this.role === "Leader" && this.dirty) {
      this.dirty = false
      Replication.replicateAll(this)
    }
    if (this.role === "Leader" && this.isSoleVoter) Replication.maybeCommit(this)
    emitCommitted(this)
    // Latch the point from which our client id's history is known (collision evidence after it).
    if (this.collisions.knownThrough === undefined) DedupCache.historyKnown(this)
    Wedge.onTurnEnd(this)
    const out = this.ready
    this.ready = done !== undefined && done !== out ? done.reset() : new Ready()
    this.pendingDurableLast = this.log.lastIndex
    return out
  }

  /** The shell wrote the last `Ready.persist` durably. */
  onPersisted(): void {
    this.durableLast = Math.min(this.pendingDurableLast, this.log.lastIndex)
    if (this.role === "Leader") Replication.maybeCommit(this)
  }

  // ---------------------------------------------------------------- outputs

  send(to: NodeId, message: RaftMessage): void {
    this.ready.messages.push({ to, message })
  }

  trace(event: RaftTraceEvent): void {
    if (this.tracing) this.ready.trace.push(event)
  }

  metric(metric: RaftMetric): void {
    this.ready.metrics.push(metric)
  }

  /** Drops a frame that failed a gate, naming the gate (never fatal). */
  refuse(from: NodeId, messageType: RaftMessageType, gate: RefusalGate): void {
    this.trace(RaftTraceEvent.FrameRefused({ at: this.now, node: this.id, from, messageType, gate }))
    this.metric(RaftMetric.FrameRefused({ gate }))
  }
}
