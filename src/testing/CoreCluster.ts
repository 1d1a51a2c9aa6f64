/**
 * A deterministic cluster of pure `RaftCore`s: no Effect, no codec, no real time. Messages are
 * delivered after a fixed latency on a virtual millisecond clock; durable state is a plain object
 * per node that survives `crash`/`restart`. Each node is driven by the engine's own drive loop
 * (`src/raft/engine/Driver.ts`) with this cluster's clock, network and (synchronous) disk, so
 * rule-level tests exercise the same code path as production.
 */
import type { RaftMessage } from "../codec/raft/RaftMessage.js"
import type { ClientId } from "../../services/raft/ClientId.js"
import type { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import { asCommitted, Committed } from "../../services/raft/LogEntry.js"
import type { LogEntry } from "../../services/raft/LogEntry.js"
import type { NodeId } from "../../services/raft/NodeId.js"
import { RaftConfig } from "../../services/raft/RaftConfig.js"
import type { DurableState, LeaderForTerm, StoredSnapshot } from "../../services/raft/RaftStorage.js"
import type { RaftMetric, RaftTraceEvent } from "../../services/raft/RaftTrace.js"
import type { MembershipOutcome } from "../raft/core/Membership.js"
import type { Outcome, Ready } from "../raft/core/Ready.js"
import { Driver } from "../raft/engine/Driver.js"
import type { DriverInput, TurnBudget } from "../raft/engine/Driver.js"
import { weighMessage } from "../raft/engine/FrameWeight.js"
import type { WriteBatch } from "../../services/raft/RaftStorage.js"
import type { IdentityKind } from "../raft/core/DedupCache.js"
import { Prng } from "../raft/core/Prng.js"
import { RaftCore } from "../raft/core/RaftCore.js"

export interface SentMessage {
  readonly at: number
  readonly from: NodeId
  readonly to: NodeId
  readonly message: RaftMessage
}

/** Mutable durable image of one node. */
export interface Disk {
  hardState: { term: number; votedFor: NodeId | null }
  leaderForTerm: LeaderForTerm | null
  snapshot: StoredSnapshot | null
  entries: Array<LogEntry>
}

export interface CoreClusterOptions {
  readonly ids: ReadonlyArray<string>
  readonly bootstrap: ClusterConfig
  readonly config?: Partial<RaftConfig>
  readonly seed?: number
  /** One-way message latency in ms (default 1). */
  readonly latency?: number
  readonly maxPayload?: number
  readonly entrySize?: (e: LogEntry) => number
  /** Per-node client identity (default: `Auto` with the id `auto:<node>-test`). */
  readonly clients?: Readonly<Record<string, { readonly clientId: string; readonly identity: IdentityKind }>>
  /** Per-node bootstrap configurations (a joiner starts with no voters and itself as learner). */
  readonly bootstrapOf?: Readonly<Record<string, ClusterConfig>>
  /**
   * Per-node `joinVia` (whom a joiner trusts while it knows no voters). Default: the voters of
   * `bootstrap`, the cluster's founding members.
   */
  readonly joinViaOf?: Readonly<Record<string, ReadonlyArray<string>>>
  /** The drive loop's per-turn budget (default: the engine's). */
  readonly budget?: TurnBudget
}

/** A rough entry size for tests that do not care about the exact codec. */
export const approximateEntrySize = (e: LogEntry): number =>
  e._tag === "Command" ? 32 + e.command.byteLength + e.dedupKey.clientId.length : 32

export class CoreCluster {
  now = 0
  readonly cores = new Map<NodeId, RaftCore>()
  /** Each running node's drive loop (the engine's). */
  readonly drivers = new Map<NodeId, Driver<RaftMessage, DriverInput>>()
  /** Paused nodes (SIGSTOP): frames wait in their drive loop, no timer fires, until `resume`. */
  readonly paused = new Set<NodeId>()
  readonly disks = new Map<NodeId, Disk>()
  readonly committed = new Map<NodeId, Array<LogEntry>>()
  /**
   * What each node handed its consumer, in order, as the consumer sees it: `Install` items
   * (snapshots received from a leader) interleaved with entries. Restarts append the re-emitted tail.
   */
  readonly stream = new Map<NodeId, Array<Committed>>()
  readonly outcomes = new Map<number, Outcome>()
  /** Nodes that stopped themselves because their durable client id is shared (fail-stop). */
  readonly failures = new Map<NodeId, ClientId>()
  /** Outcomes of `changeMembership` calls, by handle. */
  readonly membershipOutcomes = new Map<number, MembershipOutcome>()
  /** Every node ever started (the constructor's plus `addNode`'s). */
  readonly ids: Array<string>
  /** Every message ever handed to the network, in order. */
  readonly sent: Array<SentMessage> = []
  /** Every trace event any node emitted, in order (the engine publishes these; tests assert on them). */
  readonly traces: Array<RaftTraceEvent> = []
  /** Every metric any node emitted, in order, with the node that emitted it. */
  readonly metrics: Array<{ readonly node: NodeId; readonly metric: RaftMetric }> = []
  private readonly inFlight: Array<SentMessage & { deliverAt: number }> = []
  /** Directed links that drop everything: "a->b". */
  readonly cut = new Set<string>()
  private readonly cfg: RaftConfig
  private readonly seed: number
  private handles = 1

  constructor(readonly options: CoreClusterOptions) {
    this.cfg = RaftConfig.unsafeMake(options.config ?? {})
    this.seed = options.seed ?? 1
    this.ids = [...options.ids]
    for (const id of options.ids) this.create(id as NodeId)
    this.process()
  }

  private create(nid: NodeId): void {
    this.disks.set(nid, { hardState: { term: 0, votedFor: null }, leaderForTerm: null, snapshot: null, entries: [] })
    this.committed.set(nid, [])
    this.stream.set(nid, [])
    this.start(nid)
  }

  private readonly bootstraps = new Map<NodeId, ClusterConfig>()
  private readonly joinVias = new Map<NodeId, ReadonlyArray<string>>()

  /** Starts a new node with an empty disk and its own bootstrap (a joiner: no voters, itself a learner). */
  addNode(id: string, bootstrap: ClusterConfig, joinVia?: ReadonlyArray<string>): RaftCore {
    if (this.ids.includes(id)) throw new Error(`node ${id} already exists`)
    this.ids.push(id)
    this.bootstraps.set(id as NodeId, bootstrap)
    if (joinVia !== undefined) this.joinVias.set(id as NodeId, joinVia)
    this.create(id as NodeId)
    this.process()
    return this.node(id)
  }

  private start(id: NodeId): void {
    const disk = this.disks.get(id)!
    const durable: DurableState = {
      hardState: { ...disk.hardState },
      leaderForTerm: disk.leaderForTerm,
      snapshot: disk.snapshot,
      entries: disk.entries.slice()
    }
    const index = this.ids.indexOf(id)
    const core = new RaftCore({
      id,
      config: this.cfg,
      bootstrap: this.bootstraps.get(id) ?? this.options.bootstrapOf?.[id] ?? this.options.bootstrap,
      durable,
      rng: new Prng(this.seed * 7919 + index),
      clientId: (this.options.clients?.[id]?.clientId ?? `auto:${id}-test`) as ClientId,
      identity: this.options.clients?.[id]?.identity ?? "Auto",
      entrySize: this.options.entrySize ?? approximateEntrySize,
      now: this.now,
      joinVia: (this.joinVias.get(id) ?? this.options.joinViaOf?.[id] ?? [...this.options.bootstrap.voters]) as ReadonlyArray<NodeId>
    })
    core.maxPayload = this.options.maxPayload
    this.cores.set(id, core)
    this.paused.delete(id)
    this.drivers.set(id, new Driver<RaftMessage, DriverInput>(core, {
      now: () => this.now,
      maxPayload: () => this.options.maxPayload,
      decode: (_from, message) => message,
      weigh: weighMessage,
      accepted: () => {},
      write: (batch) => {
        this.persist(id, batch)
        return true
      },
      send: (to, message) => {
        const m = { at: this.now, from: id, to, message }
        this.sent.push(m)
        this.inFlight.push({ ...m, deliverAt: this.now + (this.options.latency ?? 1) })
      },
      deliver: (ready) => this.record(id, ready),
      settled: () => {},
      failed: (failure) => {
        // As the engine: a shared durable client id stops the node before it acts on the turn.
        if (failure._tag === "ClientIdCollision") this.failures.set(id, failure.clientId)
        this.cores.delete(id)
        this.drivers.delete(id)
      }
    }, this.options.budget))
  }

  node(id: string): RaftCore {
    const c = this.cores.get(id as NodeId)
    if (c === undefined) throw new Error(`node ${id} is down`)
    return c
  }

  get leaders(): Array<RaftCore> {
    return [...this.cores.values()].filter((c) => c.role === "Leader")
  }

  /** Crash: volatile state is lost, messages to and from it are dropped; the disk stays. */
  crash(id: string): void {
    this.cores.delete(id as NodeId)
    this.drivers.delete(id as NodeId)
    this.paused.delete(id as NodeId)
  }

  private readonly pausedAt = new Map<NodeId, number>()

  /** SIGSTOP: the node neither handles frames nor fires timers; frames to it wait until `resume`. */
  pause(id: string): void {
    if (!this.cores.has(id as NodeId) || this.paused.has(id as NodeId)) return
    this.paused.add(id as NodeId)
    this.pausedAt.set(id as NodeId, this.now)
  }

  /**
   * SIGCONT: the node handles what arrived meanwhile before any timer that fell due fires, and its
   * deposing timers get a fresh window (as the engine does after a stall: `Driver.stalled`).
   */
  resume(id: string): void {
    if (!this.paused.delete(id as NodeId)) return
    this.drivers.get(id as NodeId)?.stalled(this.now, this.now - (this.pausedAt.get(id as NodeId) ?? this.now))
    this.process()
  }

  restart(id: string): void {
    this.start(id as NodeId)
    this.process()
  }

  isolate(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue
      this.cut.add(`${id}->${other}`)
      this.cut.add(`${other}->${id}`)
    }
  }

  heal(): void {
    this.cut.clear()
  }

  /** Drops everything `from` sends to `to` (one direction only) until `heal`. */
  cutLink(from: string, to: string): void {
    this.cut.add(`${from}->${to}`)
  }

  propose(id: string, command: Uint8Array, requestId?: number): number {
    const handle = this.handles++
    const over = this.node(id).propose(handle, command, requestId, this.now)
    if (over !== undefined) throw new Error(`oversize: ${JSON.stringify(over)}`)
    this.process()
    return handle
  }

  cancel(id: string, handle: number): void {
    this.node(id).cancel(handle)
    this.process()
  }

  /** `readIndex` on `id` (leader only); the outcome lands in `outcomes`. */
  readIndex(id: string): number {
    const handle = this.handles++
    this.node(id).readIndex(handle, this.now)
    this.process()
    return handle
  }

  /** `readFence` on `id` (any role); the outcome lands in `outcomes`. */
  readFence(id: string): number {
    const handle = this.handles++
    this.node(id).readFence(handle, this.now)
    this.process()
    return handle
  }

  /** Asks leader `id` to hand leadership to `target`; the outcome lands in `outcomes`. */
  transferLeadership(id: string, target: string): number {
    const handle = this.handles++
    this.node(id).transferLeadership(handle, target as NodeId, this.now)
    this.process()
    return handle
  }

  cancelTransfer(id: string): void {
    this.node(id).cancelTransfer(this.now)
    this.process()
  }

  /** The consumer of `id` publishes its state through `throughIndex` (see `RaftCore.compact`). */
  compact(id: string, throughIndex: number, state: Uint8Array): boolean {
    const done = this.node(id).compact(throughIndex, state, this.now)
    this.process()
    return done
  }

  /** Asks `id` to change membership to `target`; the outcome lands in `membershipOutcomes`. */
  changeMembership(id: string, target: ClusterConfig): number {
    const handle = this.handles++
    this.node(id).changeMembership(handle, target, this.now)
    this.process()
    return handle
  }

  /** Delivers a frame as if `from` had sent it, bypassing the network. */
  inject(to: string, from: string, message: RaftMessage): void {
    this.node(to)
    this.drivers.get(to as NodeId)!.deliver(from as NodeId, message)
    this.process()
  }

  /** Advances virtual time by `ms`, one millisecond at a time. */
  advance(ms: number): void {
    const end = this.now + ms
    while (this.now < end) {
      this.now++
      this.deliverDue()
      // Each node's drive loop fires its due timers after the frames that arrived (`Driver.turn`).
      this.process()
    }
  }

  /** Advances until `predicate` holds or `maxMs` passes; returns whether it held. */
  advanceUntil(predicate: () => boolean, maxMs: number): boolean {
    const end = this.now + maxMs
    while (!predicate()) {
      if (this.now >= end) return false
      this.advance(1)
    }
    return true
  }

  private deliverDue(): void {
    let progressed = true
    while (progressed) {
      progressed = false
      const due = this.inFlight.filter((m) => m.deliverAt <= this.now)
      if (due.length === 0) return
      for (const m of due) this.inFlight.splice(this.inFlight.indexOf(m), 1)
      for (const m of due) {
        const driver = this.drivers.get(m.to)
        if (driver === undefined || this.cut.has(`${m.from}->${m.to}`)) continue
        driver.deliver(m.from, m.message)
        progressed = true
      }
      this.process()
    }
  }

  /** Runs every running node's drive loop until it has nothing left to do at this instant. */
  process(): void {
    for (const [id, driver] of this.drivers) if (!this.paused.has(id)) driver.run()
  }

  /** What a node's drive loop delivered after a write: its committed stream, outcomes, traces. */
  private record(id: NodeId, ready: Ready): void {
    this.committed.get(id)!.push(...ready.committed)
    const stream = this.stream.get(id)!
    if (ready.install !== undefined) {
      const s = ready.install
      stream.push(Committed.Install({ snapshot: { throughIndex: s.meta.lastIncludedIndex, state: s.state } }))
    }
    for (const e of ready.committed) stream.push(asCommitted(e))
    for (const r of ready.membership) this.membershipOutcomes.set(r.handle, r.outcome)
    for (const r of ready.resolutions) this.outcomes.set(r.handle, r.outcome)
    this.traces.push(...ready.trace)
    for (const metric of ready.metrics) this.metrics.push({ node: id, metric })
  }

  private persist(id: NodeId, p: WriteBatch): void {
    const d = this.disks.get(id)!
    if (p.snapshot !== undefined) d.snapshot = p.snapshot
    if (p.truncateFrom !== undefined) {
      const from = p.truncateFrom
      d.entries = d.entries.filter((e) => e.index < from)
    }
    if (p.append !== undefined && p.append.length > 0) {
      // As the storage contract says: an append after a snapshot beyond the stored log starts
      // right after the snapshot, dropping the stale entries below it.
      const snapIndex = d.snapshot?.meta.lastIncludedIndex ?? 0
      const storedLast = d.entries.length > 0 ? d.entries[d.entries.length - 1]!.index : undefined
      if (storedLast === undefined || storedLast < snapIndex) d.entries = []
      for (const e of p.append) {
        const last = d.entries.length > 0 ? d.entries[d.entries.length - 1]!.index : snapIndex
        if (e.index !== last + 1) throw new Error(`${id}: non-contiguous append ${e.index} after ${last}`)
        d.entries.push(e)
      }
    }
    if (p.hardState !== undefined) {
      if (p.hardState.term < d.hardState.term) throw new Error(`${id}: term went backwards`)
      d.hardState = { ...p.hardState }
    }
    if (p.leaderForTerm !== undefined) d.leaderForTerm = p.leaderForTerm
    if (p.discardThrough !== undefined) {
      const through = p.discardThrough
      const snapIndex = d.snapshot?.meta.lastIncludedIndex ?? 0
      if (through > snapIndex) throw new Error(`${id}: discard through ${through} beyond the snapshot at ${snapIndex}`)
      d.entries = d.entries.filter((e) => e.index > through)
    }
  }

  /** Trace events with tag `tag` (optionally only those from index `since` of `traces`). */
  tracesOf<T extends RaftTraceEvent["_tag"]>(tag: T, since = 0): Array<Extract<RaftTraceEvent, { _tag: T }>> {
    return this.traces.slice(since).filter((e): e is Extract<RaftTraceEvent, { _tag: T }> => e._tag === tag)
  }

  /** Messages sent since `since` (an index into `sent`) matching a tag. */
  sentSince(since: number, tag?: RaftMessage["_tag"]): Array<SentMessage> {
    return this.sent.slice(since).filter((m) => tag === undefined || m.message._tag === tag)
  }
}
