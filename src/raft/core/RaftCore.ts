/**
 * The Raft protocol core: a deterministic, synchronous state machine with no Effect, no I/O and
 * no clock (DESIGN.md §2). Inputs are method calls carrying `now` (ms, from the shell's Clock);
 * outputs accumulate in a `Ready` that the shell takes, persists, acknowledges and sends.
 *
 * Decisions live in small modules beside this file (elections, replication, the follower's
 * append, forwarding); this file holds the state they share, role transitions, timers and the
 * persistence bookkeeping that enforces "no reply before the write it depends on".
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
import type { RaftMessageType, RefusalGate, StepDownReason } from "../../../services/raft/RaftTrace.js"
import { HEADER_RESERVE } from "./constants.js"
import * as DedupCache from "./DedupCache.js"
import * as Elections from "./Elections.js"
import * as FollowerAppend from "./FollowerAppend.js"
import * as Forwarding from "./Forwarding.js"
import type { Prng } from "./Prng.js"
import { Progress } from "./Progress.js"
import { allReplicas, allVoters } from "./Quorum.js"
import { RaftLog } from "./RaftLog.js"
import * as ReadIndex from "./ReadIndex.js"
import { Ready } from "./Ready.js"
import * as Replication from "./Replication.js"
import * as Membership from "./Membership.js"
import * as SnapshotReceive from "./SnapshotReceive.js"
import * as Snapshots from "./Snapshots.js"
import * as Transfer from "./Transfer.js"

export { HEADER_RESERVE }

// Read once: every property read of a `Data.taggedEnum` builds a fresh constructor.
const AdvanceCommitIndex = RaftTraceEvent.AdvanceCommitIndex

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
}

export class RaftCore {
  readonly id: NodeId
  readonly cfg: RaftConfig
  readonly rng: Prng
  readonly entrySize: (entry: LogEntry) => number
  readonly bootstrap: ConfigPayload
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

  // Reads (ReadIndex.ts), leadership transfer (Transfer.ts), exactly-once (DedupCache.ts).
  readonly reads = new ReadIndex.ReadState()
  transfer: Transfer.PendingTransfer | undefined = undefined
  readonly dedup = new DedupCache.LeaderDedupCache()
  readonly collisions: DedupCache.CollisionDetector

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
    this.bootstrap = new ConfigPayload({ new: options.bootstrap })
    this.config = this.bootstrap
    this.restore(options.durable)
    this.collisions = new DedupCache.CollisionDetector(options.identity ?? "Auto", this.term)
    this.serial = DedupCache.highestOwnSerial(this)
    this.role = this.isVoter ? "Follower" : "Learner"
    this.resetElectionTimer()
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
    this.recomputeConfig()
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

  /** The earliest time the shell must call `tick`. */
  nextDeadline(): number {
    const transfer = Transfer.deadline(this)
    if (this.role === "Leader") return Math.min(this.heartbeatDeadline, this.checkQuorumDeadline, transfer)
    // A learner (or a removed node) never campaigns: its election timer is no deadline, else the
    // shell would spin on a timer that `tick` never rearms.
    return Math.min(this.isVoter ? this.electionDeadline : Infinity, transfer)
  }

  /** Budget for entries in one AppendEntries. */
  entryBudget(): number {
    return this.maxPayload === undefined ? Infinity : Math.max(1, this.maxPayload - HEADER_RESERVE)
  }

  // ---------------------------------------------------------------- inputs

  /** Fires every timer due at `now`. */
  tick(now: number): void {
    this.now = now
    Transfer.onTick(this)
    if (this.role === "Leader") {
      if (now >= this.heartbeatDeadline) {
        this.heartbeatDeadline = now + this.cfg.heartbeatInterval
        Replication.heartbeat(this)
      }
      if (now >= this.checkQuorumDeadline) Replication.checkQuorum(this)
    } else if (this.isVoter && now >= this.electionDeadline) {
      Elections.onElectionTimeout(this)
    }
  }

  /** Handles one decoded frame from `from` (already known to be a well-formed message). */
  receive(from: NodeId, message: RaftMessage, now: number): void {
    this.now = now
    if (from === this.id) return this.refuse(from, message._tag, "NotAMember")
    // Dispatch-boundary gate: a term far beyond ours is a poisoned or corrupt frame (original RefusalGate).
    const term = messageTerm(message)
    if (term !== undefined && term > this.term + this.cfg.maxTermJump) {
      return this.refuse(from, message._tag, "ImplausibleTermJump")
    }
    if (Membership.isUnsolicitedResponse(this, from, message)) return this.refuse(from, message._tag, "ResponseNotExpected")
    switch (message._tag) {
      case "PreVote":
        return Elections.onPreVote(this, from, message)
      case "PreVoteResponse":
        return Elections.onPreVoteResponse(this, from, message)
      case "RequestVote":
        return Elections.onRequestVote(this, from, message)
      case "RequestVoteResponse":
        return Elections.onRequestVoteResponse(this, from, message)
      case "AppendEntries":
        return FollowerAppend.onAppendEntries(this, from, message)
      case "AppendEntriesResponse":
        return Replication.onAppendEntriesResponse(this, from, message)
      case "Forward":
        return Forwarding.onForward(this, from, message)
      case "ForwardResponse":
        return Forwarding.onForwardResponse(this, from, message)
      case "TimeoutNow":
        return Transfer.onTimeoutNow(this, from, message)
      case "ReadIndexRequest":
        return ReadIndex.onReadIndexRequest(this, from, message)
      case "ReadIndexResponse":
        return ReadIndex.onReadIndexResponse(this, from, message)
      case "InstallSnapshot":
        return SnapshotReceive.onInstallSnapshot(this, from, message)
      case "InstallSnapshotResponse":
        return Snapshots.onInstallSnapshotResponse(this, from, message)
    }
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
    Forwarding.flushParked(this)
    ReadIndex.flush(this)
    if (this.role === "Leader" && this.dirty) {
      this.dirty = false
      Replication.replicateAll(this)
    }
    if (this.role === "Leader" && this.isSoleVoter) Replication.maybeCommit(this)
    this.emitCommitted()
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

  // ---------------------------------------------------------------- shared transitions

  resetElectionTimer(): void {
    this.electionDeadline = this.now + this.rng.between(this.cfg.electionTimeoutMin, this.cfg.electionTimeoutMax)
  }

  /** Adopts a newer term: clears the vote, persists both atomically. */
  adoptTerm(term: number): void {
    if (term <= this.term) return
    this.term = term
    this.votedFor = null
    // A pre-vote round asked for the term after the one it started in; once our term moves it is
    // stale, and late grants for it must not start a real election (which would bump past a term
    // we may just have voted in, deposing its fresh leader — the disruption PreVote exists to
    // prevent, thesis §9.6).
    this.preVote = undefined
    this.persistHardState()
  }

  persistHardState(): void {
    this.ready.persist.hardState = { term: this.term, votedFor: this.votedFor }
  }

  /** Leaves Leader/Candidate (or a pre-vote) and becomes a follower (or learner) of `leader`. */
  becomeFollower(reason: StepDownReason, leader: NodeId | undefined): void {
    const wasLeader = this.role === "Leader"
    if (wasLeader) Replication.abandonLeadership(this, reason)
    this.preVote = undefined
    this.votes.clear()
    const role: RaftRole = this.isVoter ? "Follower" : "Learner"
    if (this.role !== role || wasLeader) {
      this.trace(RaftTraceEvent.BecomeFollower({ at: this.now, node: this.id, term: this.term, reason }))
    }
    this.role = role
    this.leader = leader
    this.heartbeatDeadline = Infinity
    this.checkQuorumDeadline = Infinity
    this.resetElectionTimer()
  }

  becomeLeader(): void {
    this.role = "Leader"
    this.leader = this.id
    this.preVote = undefined
    this.votes.clear()
    this.progress.clear()
    const next = this.log.lastIndex + 1
    for (const peer of allReplicas(this.config)) if (peer !== this.id) this.progress.set(peer, new Progress(next))
    this.trace(RaftTraceEvent.BecomeLeader({ at: this.now, node: this.id, term: this.term }))
    this.metric(RaftMetric.ElectionWon({ term: this.term, elapsedMs: this.now - this.electionStartedAt }))
    this.leaderForTerm = { term: this.term, leaderId: this.id }
    this.ready.persist.leaderForTerm = this.leaderForTerm
    // §5.4.2 / thesis §6.4: commit an entry of our own term before anything else counts.
    this.appendLocal({ _tag: "NoOp", index: this.log.lastIndex + 1, term: this.term })
    this.heartbeatDeadline = this.now + this.cfg.heartbeatInterval
    this.checkQuorumDeadline = this.now + this.rng.between(this.cfg.electionTimeoutMin, this.cfg.electionTimeoutMax)
    this.electionDeadline = Infinity
    DedupCache.onBecomeLeader(this)
    Transfer.onBecomeLeader(this)
  }

  // ---------------------------------------------------------------- log bookkeeping

  /** Appends one entry as leader (durable at the end of the turn, replicated at takeReady). */
  appendLocal(entry: LogEntry): void {
    this.log.appendOne(entry)
    this.ready.persist.append.push(entry)
    if (entry._tag === "Config") this.adoptConfig(entry.config, entry.index)
    this.dirty = true
  }

  /** Appends a follower batch that continues the log exactly. */
  appendFollower(entries: ReadonlyArray<LogEntry>): void {
    this.log.append(entries)
    for (const e of entries) {
      this.ready.persist.append.push(e)
      if (e._tag === "Config") this.adoptConfig(e.config, e.index)
    }
  }

  /** Removes an uncommitted suffix; a config entry in it rolls back (§6, "effective membership"). */
  truncateFrom(index: number): void {
    this.log.truncateFrom(index)
    this.ready.truncate(index)
    if (this.durableLast >= index) this.durableLast = index - 1
    if (this.configIndex >= index) this.recomputeConfig()
  }

  adoptConfig(config: ConfigPayload, index: number): void {
    const changed = config !== this.config
    this.config = config
    this.configIndex = index
    if (changed) Membership.onConfigAdopted(this)
  }

  /** Re-derives membership from the log, then the snapshot, then bootstrap. */
  recomputeConfig(): void {
    for (let i = this.log.lastIndex; i > this.log.snapshotIndex; i--) {
      const e = this.log.entry(i)!
      if (e._tag === "Config") return this.adoptConfig(e.config, i)
    }
    this.adoptConfig(this.snapshotConfig ?? this.bootstrap, this.snapshotConfig !== undefined ? this.log.snapshotIndex : 0)
  }

  advanceCommit(index: number): void {
    if (index <= this.commitIndex) return
    if (this.tracing) this.trace(AdvanceCommitIndex({ at: this.now, node: this.id, old: this.commitIndex, new: index }))
    this.commitIndex = index
  }

  private emitCommitted(): void {
    const upTo = Math.min(this.commitIndex, this.log.lastIndex)
    if (upTo <= this.lastEmitted) return
    for (const entry of this.log.range(this.lastEmitted + 1, upTo)) {
      this.ready.committed.push(entry)
      DedupCache.checkCollision(this, entry)
      if (this.role === "Leader") Forwarding.onLeaderCommitted(this, entry)
    }
    this.lastEmitted = upTo
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

/** The term a frame claims, for the dispatch-boundary gate (forwarding frames carry none). */
const messageTerm = (m: RaftMessage): number | undefined => {
  switch (m._tag) {
    case "Forward":
    case "ForwardResponse":
    case "ReadIndexRequest":
    case "ReadIndexResponse":
      return undefined
    case "PreVote":
    case "RequestVote":
    case "RequestVoteResponse":
    case "PreVoteResponse":
    case "AppendEntries":
    case "AppendEntriesResponse":
    case "InstallSnapshot":
    case "InstallSnapshotResponse":
    case "TimeoutNow":
      return m.term
  }
}
