/**
 * The state of one Raft node (Figure 2's persistent and volatile state, plus what PreVote,
 * ReadIndex, transfer, forwarding, snapshots and membership changes keep) and the turn's output
 * buffer. Only the node's steps change it — `Roles`, `LocalLog`, `Leader`, `Follower`, `Voting`,
 * `Proposals`, `Requests`, `Timers` and `RaftCore` — by applying what the leaf
 * modules (`Quorum`, `Progress`, `RaftLog`, `ReadIndex`, `DedupCache`, `Transfer`, `Membership`,
 * `Snapshots`, `SnapshotReceive`, `Forwarding`, `Trust`, `Wedge`, `Elections`) decide; the leaves
 * never import this file (docs/ARCHITECTURE.md, "Raft").
 */
import { CollisionDetector, LeaderDedupCache } from "./DedupCache.js"
import type { IdentityKind } from "./DedupCache.js"
import type { DurableState, LeaderForTerm, StoredSnapshot } from "./Durable.js"
import type { ConfigPayload, LogEntry, Members } from "./Entries.js"
import type { RaftMetric, RaftTraceEvent, RefusalGate, WedgeReason } from "./Events.js"
import type { InFlight, Parked } from "./Forwarding.js"
import type { ClientId, NodeId } from "./Ids.js"
import type { PendingChange } from "./Membership.js"
import type { RaftMessage, RaftMessageType } from "./Messages.js"
import type { Prng } from "./Prng.js"
import type { Progress } from "./Progress.js"
import { isSoleVoter, isVoterOf } from "./Quorum.js"
import { RaftLog } from "./RaftLog.js"
import { ReadState } from "./ReadIndex.js"
import { Ready } from "./Ready.js"
import type { Reassembly } from "./SnapshotReceive.js"
import type { PendingTransfer } from "./Transfer.js"
import { VouchState } from "./Trust.js"
import type { RaftConfig, RaftRole } from "./Tuning.js"
import { WedgeState } from "./Wedge.js"
import { HEADER_RESERVE } from "./constants.js"

/** What a node is built from (`RaftCore`'s `CoreOptions` is this type). */
export interface StateOptions {
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

export class NodeState {
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
  /** The log's last index when the last `Ready` was taken: durable once the shell acknowledges it. */
  pendingDurableLast = 0

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
  readonly parked: Array<Parked> = []
  readonly forwards = new Map<number, InFlight>()
  /** The term and leader `forwards` were last checked against (`Proposals.failStranded`). */
  forwardsTerm = 0
  forwardsLeader: NodeId | undefined = undefined
  /** The transport's peer set as last reported (`peersChanged`); `undefined` until then. */
  transportPeers: ReadonlySet<NodeId> | undefined = undefined

  // Reads (ReadIndex.ts), leadership transfer (Transfer.ts), exactly-once (DedupCache.ts).
  readonly reads = new ReadState()
  transfer: PendingTransfer | undefined = undefined
  readonly dedup = new LeaderDedupCache()
  readonly collisions: CollisionDetector

  // The membership gate's vouching (Trust.ts) and wedge suspicion (Wedge.ts).
  readonly vouch = new VouchState()
  readonly wedge: WedgeState

  // Snapshots (Snapshots.ts, SnapshotReceive.ts) and membership changes (Membership.ts).
  /** The latest snapshot, kept in memory to stream to lagging followers and to replay in `committedFrom`. */
  snapshot: StoredSnapshot | undefined = undefined
  /** A snapshot being received in chunks. */
  reassembly: Reassembly | undefined = undefined
  /** The leader's membership change in flight. */
  membershipChange: PendingChange | undefined = undefined

  ready = new Ready()

  /**
   * Sets up the state and restores what `durable` holds. The membership in force is derived from
   * the restored log by the caller (`LocalLog.recomputeConfig`), which may already emit events.
   */
  constructor(options: StateOptions) {
    this.id = options.id
    this.cfg = options.config
    this.rng = options.rng
    this.entrySize = options.entrySize
    this.clientId = options.clientId
    this.now = options.now
    this.joinVia = new Set(options.joinVia ?? [])
    this.wedge = new WedgeState(options.now)
    this.bootstrap = { new: options.bootstrap }
    this.config = this.bootstrap
    const d = options.durable
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
    this.collisions = new CollisionDetector(options.identity ?? "Auto", this.term)
  }

  // ---------------------------------------------------------------- queries

  get isVoter(): boolean {
    return isVoterOf(this.config, this.id)
  }

  get isSoleVoter(): boolean {
    return isSoleVoter(this.config, this.id)
  }

  /** Leader stickiness: a leader is alive if we are it or heard from it within electionTimeoutMin. */
  leaderAlive(): boolean {
    return this.role === "Leader" || this.now < this.leaderContactAt + this.cfg.electionTimeoutMin
  }

  /** Budget for entries in one AppendEntries. */
  entryBudget(): number {
    return this.maxPayload === undefined ? Infinity : Math.max(1, this.maxPayload - HEADER_RESERVE)
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

  /** Reports a suspected wedge (`Wedge.ts`), once per episode: metric and trace event. */
  suspectWedge(reason: WedgeReason, leader: NodeId | undefined, leaderTerm: number): void {
    if (!this.wedge.suspect(reason, this.now, leader, leaderTerm)) return
    const fields = { reason, leader, leaderTerm, term: this.term, commitIndex: this.commitIndex, appliedIndex: this.lastEmitted }
    this.metric({ _tag: "WedgeSuspected", ...fields })
    this.trace({ _tag: "WedgeSuspected", at: this.now, node: this.id, ...fields })
  }

  /** Drops a frame that failed a gate, naming the gate (never fatal). */
  refuse(from: NodeId, messageType: RaftMessageType, gate: RefusalGate): void {
    this.trace({ _tag: "FrameRefused", at: this.now, node: this.id, from, messageType, gate })
    this.metric({ _tag: "FrameRefused", gate })
  }
}
