/**
 * A deterministic cluster of pure Raft cores for simulation (reference §3.6, "core-level DST"):
 * virtual time, the `SimNetwork`, one `InMemoryRaftStorage.Disk` per node (so crashes keep only
 * what the storage made durable, and every batch passes the same validation a real store
 * applies), a KV state machine per node that snapshots itself, crash/restart, pause/resume, nodes
 * added at run time (joiners, replacements) and the operator's entry points (membership changes,
 * leadership transfers, reads).
 *
 * Each node is driven exactly as the engine drives it: takeReady → one storage write →
 * onPersisted → send → install snapshot (if any) → apply committed → resolve. Observers see every
 * step, which is where the invariant checker, the workload and the operator hook in.
 */
import { Effect, Either } from "effect"
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { validateDurableState } from "../../../services/raft/validateDurableState.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { asCommitted, Committed } from "../../../services/raft/LogEntry.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { DurableState, RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { entryWireSize } from "../../codec/raft/RaftCodec.js"
import { toWriteBatch } from "../../raft/engine/Engine.js"
import type { MembershipResolution } from "../../raft/core/Membership.js"
import { Prng } from "../../raft/core/Prng.js"
import { RaftCore } from "../../raft/core/RaftCore.js"
import type { PersistBatch, Resolution } from "../../raft/core/Ready.js"
import { KvStateMachine } from "./KvStateMachine.js"
import { SimNetwork } from "./SimNetwork.js"
import type { InFlight } from "./SimNetwork.js"
import { SimRandom } from "./SimRandom.js"

export interface SimNode {
  readonly id: NodeId
  core: RaftCore | undefined
  readonly disk: InMemoryRaftStorage.Disk
  storage: RaftStorageShape
  sm: KvStateMachine
  paused: boolean
  /** Messages that arrived while paused, delivered in order on resume (SIGSTOP keeps the inbox). */
  held: Array<InFlight>
  incarnation: number
  /** The configuration the node starts from when its disk has none (a joiner: itself as learner). */
  readonly bootstrap: ClusterConfig
  /**
   * Whom the node trusts while its configuration has no voters (`RaftCore` `joinVia`); the
   * operator re-provisions a pristine joiner with the voters it knows when it adds it.
   */
  joinVia: ReadonlyArray<NodeId>
  /** The consumer snapshots after this many applied entries past its last snapshot. */
  readonly snapshotEvery: number
  /** Never restarted again: its identity was retired (it lost acknowledged writes). */
  retired: boolean
}

/** Hooks called as the cluster runs; the invariant checker, workload and operator implement them. */
export interface SimObserver {
  /** A node is about to write `batch` (before it is durable). */
  readonly onPersist?: (node: SimNode, batch: PersistBatch) => void
  readonly onSend?: (node: SimNode, to: NodeId, message: RaftMessage) => void
  /** Trace events of one turn, before its messages leave. */
  readonly onTrace?: (node: SimNode, events: ReadonlyArray<RaftTraceEvent>) => void
  /** A committed item reached the node's state machine (already applied; `Install` has no entry). */
  readonly onApplied?: (node: SimNode, item: Committed, entry: LogEntry | undefined) => void
  /** The node's consumer published a snapshot through `index` and the core compacted to it. */
  readonly onCompacted?: (node: SimNode, index: number, state: Uint8Array) => void
  readonly onResolved?: (node: SimNode, resolution: Resolution) => void
  readonly onMembership?: (node: SimNode, resolution: MembershipResolution) => void
  /** After every processing step of a node (invariants that look at the whole state). */
  readonly onStep?: (node: SimNode) => void
  readonly onStart?: (node: SimNode) => void
  /** A frame from `from` was handled by `node`, whose term was `termBefore` (adversary checks). */
  readonly onDelivered?: (node: SimNode, from: NodeId, message: RaftMessage, termBefore: number) => void
}

export interface SimClusterOptions {
  readonly seed: number
  readonly ids: ReadonlyArray<string>
  readonly bootstrap: ClusterConfig
  /** Per-node bootstrap overrides (joiners start with no voters and themselves as learner). */
  readonly bootstrapOf?: (id: string) => ClusterConfig | undefined
  /** Per-node `joinVia`; default: the voters of `bootstrap`. */
  readonly joinViaOf?: (id: string) => ReadonlyArray<string> | undefined
  readonly config: RaftConfig
  readonly maxPayload?: number
  /** Mean applied entries between a node's snapshots; `undefined` = never compact. */
  readonly snapshotEvery?: number
  /**
   * Storage durability. `immediate`: an acknowledged write is durable at once (the contract).
   * `onSync`: writes stay pending until a sync, which follows a write with `syncChance`; a crash
   * may then lose the pending tail (only the disk-loss fault does that).
   */
  readonly durability?: InMemoryRaftStorage.Durability
  readonly syncChance?: number
}

/** Raised when a node's storage refuses a write or its restart finds corrupt state: a core bug. */
export class SimFault extends Error {}

export class SimCluster {
  now = 0
  readonly nodes = new Map<NodeId, SimNode>()
  readonly network: SimNetwork
  readonly observers: Array<SimObserver> = []
  /**
   * Drops a due message instead of delivering it (the adversary withdraws a forged frame whose
   * sender became a member of its target meanwhile: a lying member is out of scope).
   */
  dropDue: ((m: InFlight) => boolean) | undefined = undefined
  private readonly coreSeeds: SimRandom
  private readonly diskRandom: SimRandom
  private readonly snapshotRandom: SimRandom
  private handles = 1

  constructor(readonly options: SimClusterOptions) {
    this.network = new SimNetwork(new SimRandom(options.seed, 1))
    this.coreSeeds = new SimRandom(options.seed, 2)
    this.diskRandom = new SimRandom(options.seed, 6)
    this.snapshotRandom = new SimRandom(options.seed, 8)
    for (const raw of options.ids) {
      const disk = InMemoryRaftStorage.Disk.make({ durability: options.durability ?? "immediate" })
      this.create(raw, options.bootstrapOf?.(raw) ?? options.bootstrap, disk)
    }
  }

  private create(
    raw: string,
    bootstrap: ClusterConfig,
    disk: InMemoryRaftStorage.Disk,
    joinVia?: ReadonlyArray<string>
  ): SimNode {
    const id = raw as NodeId
    if (this.nodes.has(id)) throw new Error(`node ${id} already exists`)
    const every = this.options.snapshotEvery
    const node: SimNode = {
      id,
      core: undefined,
      disk,
      storage: disk.open(),
      sm: new KvStateMachine(),
      paused: false,
      held: [],
      incarnation: 0,
      bootstrap,
      joinVia: (joinVia ?? this.options.joinViaOf?.(raw) ?? [...this.options.bootstrap.voters]) as ReadonlyArray<NodeId>,
      // Nodes snapshot at different points, so their compaction floors (and the InstallSnapshot
      // races between them) differ.
      snapshotEvery: every === undefined ? Infinity : this.snapshotRandom.int(Math.max(2, every >> 1), every * 2),
      retired: false
    }
    this.nodes.set(id, node)
    return node
  }

  /** Boots every node (call once observers are attached). */
  start(): void {
    for (const node of this.nodes.values()) this.boot(node)
  }

  /**
   * Adds and boots a node at run time: a joiner with an empty disk, or a new identity over an
   * existing disk (a machine re-imaged under a new name after losing writes).
   */
  addNode(id: string, bootstrap: ClusterConfig, disk?: InMemoryRaftStorage.Disk, joinVia?: ReadonlyArray<string>): SimNode {
    const node = this.create(
      id,
      bootstrap,
      disk ?? InMemoryRaftStorage.Disk.make({ durability: this.options.durability ?? "immediate" }),
      joinVia
    )
    this.boot(node)
    return node
  }

  node(id: string): SimNode {
    const n = this.nodes.get(id as NodeId)
    if (n === undefined) throw new Error(`unknown node ${id}`)
    return n
  }

  get up(): Array<SimNode> {
    return [...this.nodes.values()].filter((n) => n.core !== undefined)
  }

  /** A fresh request handle, unique across every caller (clients and operator). */
  nextHandle(): number {
    return this.handles++
  }

  private boot(node: SimNode): void {
    node.storage = node.disk.open()
    const loaded = Effect.runSync(Effect.either(node.storage.load))
    if (Either.isLeft(loaded)) throw new SimFault(`${node.id}: load failed: ${loaded.left.message}`)
    const checked = validateDurableState(loaded.right as DurableState)
    if (Either.isLeft(checked)) throw new SimFault(`${node.id}: ${checked.left.message}`)
    const durable = checked.right
    node.incarnation++
    node.sm = new KvStateMachine()
    if (durable.snapshot !== null) {
      // The consumer restarts from its own snapshot, as a real application would.
      node.sm.restore(durable.snapshot.state)
      node.sm.applied = durable.snapshot.meta.lastIncludedIndex
    }
    node.core = new RaftCore({
      id: node.id,
      config: this.options.config,
      bootstrap: node.bootstrap,
      durable,
      rng: new Prng(this.coreSeeds.fork()),
      clientId: `auto:${node.id}-${node.incarnation}` as ClientId,
      entrySize: entryWireSize,
      now: this.now,
      joinVia: node.joinVia
    })
    node.core.maxPayload = this.options.maxPayload
    for (const o of this.observers) o.onStart?.(node)
    this.process(node)
  }

  /** The node dies: volatile state is lost; the disk keeps its durable part (plus `keepPending`). */
  crash(id: string, keepPending: InMemoryRaftStorage.CrashKeep = "all"): void {
    const node = this.node(id)
    if (node.core === undefined) return
    node.core = undefined
    node.paused = false
    node.held = []
    node.disk.crash({ keep: keepPending })
  }

  restart(id: string): void {
    const node = this.node(id)
    if (node.core !== undefined || node.retired) return
    this.boot(node)
  }

  /**
   * The operator tells a joiner that never joined (empty log, no voters known) whom to join
   * through — as an admin restarts a fresh node with the current voters — before adding it. A
   * node that already holds a log keeps its `joinVia` (its configuration decides by then).
   */
  reprovision(id: string, joinVia: ReadonlyArray<string>): void {
    const node = this.node(id)
    const core = node.core
    if (core !== undefined && (core.log.lastIndex > 0 || core.config.new.voters.size > 0)) return
    node.joinVia = joinVia as ReadonlyArray<NodeId>
    if (core !== undefined && !node.paused) {
      this.crash(id)
      this.restart(id)
    }
  }

  /** SIGSTOP: no timers, no processing; messages to it wait until `resume`. */
  pause(id: string): void {
    const node = this.node(id)
    if (node.core !== undefined) node.paused = true
  }

  resume(id: string): void {
    const node = this.node(id)
    if (!node.paused) return
    node.paused = false
    const held = node.held
    node.held = []
    for (const m of held) this.network.defer(m, this.now)
  }

  /** The earliest time anything is due (a message or a node timer). */
  nextEventAt(): number {
    let t = this.network.nextAt
    for (const n of this.nodes.values()) {
      if (n.core !== undefined && !n.paused) t = Math.min(t, n.core.nextDeadline())
    }
    return t
  }

  /** Runs everything due up to and including `until`, in time order. */
  runUntil(until: number): void {
    for (;;) {
      const t = this.nextEventAt()
      if (t > until) break
      this.now = Math.max(this.now, t)
      this.deliverDue()
      for (const n of this.nodes.values()) {
        if (n.core === undefined || n.paused || n.core.nextDeadline() > this.now) continue
        n.core.tick(this.now)
        this.process(n)
      }
    }
    this.now = Math.max(this.now, until)
  }

  private deliverDue(): void {
    for (;;) {
      const m = this.network.popDue(this.now)
      if (m === undefined) return
      // A reply to an adversary's forged identity reaches no simulated machine.
      const node = this.nodes.get(m.to)
      if (node === undefined || node.core === undefined) continue
      if (node.paused) {
        node.held.push(m)
        continue
      }
      if (this.dropDue !== undefined && this.dropDue(m)) continue
      this.network.stats.delivered++
      const core = node.core
      const termBefore = core.term
      core.receive(m.from, m.message, this.now)
      this.process(node)
      for (const o of this.observers) o.onDelivered?.(node, m.from, m.message, termBefore)
    }
  }

  /** Runs one node's Ready loop to quiescence. */
  process(node: SimNode): void {
    const core = node.core
    if (core === undefined) return
    for (;;) {
      const ready = core.takeReady()
      if (ready.isEmpty) break
      if (core.collisions.fatal !== undefined) {
        // Every incarnation mints a fresh auto id: a fatal collision is a core bug here.
        throw new SimFault(`${node.id}: client id collision on ${core.collisions.fatal}`)
      }
      if (ready.hasPersist) {
        for (const o of this.observers) o.onPersist?.(node, ready.persist)
        const written = Effect.runSync(Effect.either(node.storage.write(toWriteBatch(ready.persist))))
        if (Either.isLeft(written)) throw new SimFault(`${node.id}: storage refused a write: ${written.left.message}`)
        if (node.disk.durability === "onSync" && this.diskRandom.chance(this.options.syncChance ?? 1)) node.disk.sync()
      }
      core.onPersisted()
      if (ready.trace.length > 0) for (const o of this.observers) o.onTrace?.(node, ready.trace)
      for (const out of ready.messages) {
        for (const o of this.observers) o.onSend?.(node, out.to, out.message)
        this.network.send(this.now, node.id, out.to, out.message)
      }
      // A snapshot installed from the leader replaces the state before this turn's entries,
      // which all lie above it (the `Ready.install` contract).
      if (ready.install !== undefined) {
        const s = ready.install
        const item = Committed.Install({ snapshot: { throughIndex: s.meta.lastIncludedIndex, state: s.state } })
        node.sm.apply(item)
        for (const o of this.observers) o.onApplied?.(node, item, undefined)
      }
      for (const raw of ready.committed) {
        const item = toCommitted(raw)
        const entry = item._tag === "Install" ? undefined : core.log.entry(indexOf(item))
        node.sm.apply(item)
        for (const o of this.observers) o.onApplied?.(node, item, entry)
      }
      for (const r of ready.membership) for (const o of this.observers) o.onMembership?.(node, r)
      for (const r of ready.resolutions) for (const o of this.observers) o.onResolved?.(node, r)
      this.maybeCompact(node, core)
    }
    for (const o of this.observers) o.onStep?.(node)
  }

  /** The consumer publishes its state every `snapshotEvery` applied entries; the core compacts. */
  private maybeCompact(node: SimNode, core: RaftCore): void {
    const through = node.sm.applied
    if (through - core.log.snapshotIndex < node.snapshotEvery) return
    const state = node.sm.snapshot()
    if (core.compact(through, state, this.now)) for (const o of this.observers) o.onCompacted?.(node, through, state)
  }

  /** The node is usable for a request (running, not paused). */
  private live(id: string): RaftCore | undefined {
    const node = this.nodes.get(id as NodeId)
    return node === undefined || node.core === undefined || node.paused ? undefined : node.core
  }

  /**
   * Proposes on a node (under `requestId` when the caller pins it, as a retry does); returns false
   * if the node is down (the client sees no answer).
   */
  propose(id: string, handle: number, command: Uint8Array, requestId?: number): boolean {
    const core = this.live(id)
    if (core === undefined) return false
    const over = core.propose(handle, command, requestId, this.now)
    if (over !== undefined) throw new SimFault(`${id}: command unexpectedly over budget`)
    this.process(this.node(id))
    return true
  }

  /** A linearizable read: `readIndex` (leader only) or a read fence (any role). */
  read(id: string, handle: number, via: "readIndex" | "readFence"): boolean {
    const core = this.live(id)
    if (core === undefined) return false
    if (via === "readIndex") core.readIndex(handle, this.now)
    else core.readFence(handle, this.now)
    this.process(this.node(id))
    return true
  }

  changeMembership(id: string, handle: number, target: ClusterConfig): boolean {
    const core = this.live(id)
    if (core === undefined) return false
    core.changeMembership(handle, target, this.now)
    this.process(this.node(id))
    return true
  }

  transferLeadership(id: string, handle: number, target: string): boolean {
    const core = this.live(id)
    if (core === undefined) return false
    core.transferLeadership(handle, target as NodeId, this.now)
    this.process(this.node(id))
    return true
  }

  cancelTransfer(id: string): void {
    const core = this.live(id)
    if (core === undefined) return
    core.cancelTransfer(this.now)
    this.process(this.node(id))
  }

  cancel(id: string, handle: number): void {
    const node = this.node(id)
    if (node.core === undefined) return
    node.core.cancel(handle)
    this.process(node)
  }
}

/** `Ready.committed` items as `Committed` (accepting plain log entries too). */
const toCommitted = (raw: Committed | LogEntry): Committed => {
  switch (raw._tag) {
    case "Entry":
    case "Internal":
    case "Install":
      return raw
    case "Command":
    case "NoOp":
    case "Config":
      return asCommitted(raw)
  }
}

const indexOf = (c: Committed): number =>
  c._tag === "Entry" ? c.entry.index : c._tag === "Internal" ? c.index : c.snapshot.throughIndex
