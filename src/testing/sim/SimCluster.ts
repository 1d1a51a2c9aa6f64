/**
 * A deterministic cluster of Raft nodes for simulation (core-level DST): virtual time, the
 * `SimNetwork`, one `InMemoryRaftStorage.Disk` per node (every batch passes the same validation a
 * real store applies), a KV state machine per node that snapshots itself, crash/restart,
 * pause/resume, nodes added at run time (joiners, replacements) and the operator's entry points
 * (membership changes, leadership transfers, reads).
 *
 * Each node runs the engine's own drive loop (`src/raft/engine/Driver.ts`): frames and inputs in,
 * timers, one storage write, onPersisted, send, publish, resolve — the very code production runs,
 * with this cluster's clock, network and disk. A write's fsync completes a few virtual ms after
 * it is issued, as its own event (`writeLatency`); the loop waits for it, and a crash before it
 * completes keeps the write or loses it (a coin). So a loop that acknowledged a vote or an append
 * before the write it depends on were durable is caught (`Invariants.ts`: the acknowledged state
 * at every send, and the double votes and lost entries a crash then causes).
 *
 * Observers see every step, which is where the invariant checker, the workload and the operator
 * hook in.
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
import type { DurableState, HardState, RaftStorageShape, WriteBatch } from "../../../services/raft/RaftStorage.js"
import { storageFastPathOf } from "../../../services/raft/StorageFastPath.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { entryWireSize } from "../../codec/raft/RaftCodec.js"
import type { MembershipResolution } from "../../raft/core/Membership.js"
import { Prng } from "../../raft/core/Prng.js"
import { RaftCore } from "../../raft/core/RaftCore.js"
import type { Ready, Resolution } from "../../raft/core/Ready.js"
import { Driver } from "../../raft/engine/Driver.js"
import type { DriverInput } from "../../raft/engine/Driver.js"
import { weighMessage } from "../../raft/engine/FrameWeight.js"
import { KvStateMachine } from "./KvStateMachine.js"
import { SimNetwork } from "./SimNetwork.js"
import type { InFlight } from "./SimNetwork.js"
import { SimRandom } from "./SimRandom.js"

export interface SimNode {
  readonly id: NodeId
  core: RaftCore | undefined
  /** The node's drive loop (the engine's), while it runs. */
  driver: Driver<RaftMessage, DriverInput> | undefined
  /** The write in flight: its completion event (the loop waits for it). */
  writing: { readonly at: number; readonly seq: number } | undefined
  /** A write completed while the node was paused: acknowledged on `resume`. */
  writeDone: boolean
  /** The log's last index once the write in flight is durable. */
  writingLast: number
  writingHard: HardState | undefined
  /** What the storage has acknowledged: the last log index and the hard state (invariants). */
  ackedLast: number
  ackedHard: HardState
  readonly disk: InMemoryRaftStorage.Disk
  storage: RaftStorageShape
  sm: KvStateMachine
  paused: boolean
  pausedAt: number
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
  /** The index of the consumer's last published snapshot (one request per index). */
  snapshotAsked: number
}

/** Hooks called as the cluster runs; the invariant checker, workload and operator implement them. */
export interface SimObserver {
  /** A node is about to write `batch` (before it is durable). */
  readonly onPersist?: (node: SimNode, batch: WriteBatch) => void
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
   * Storage durability. `immediate`: the storage keeps its contract — a write is acknowledged
   * once durable, `writeLatency` later; a crash before then keeps or loses it. `onSync`: a disk
   * that lies — writes are acknowledged at once but stay pending until a sync, which follows a
   * write with `syncChance`; a crash may then lose acknowledged writes (only the disk-loss fault
   * does that).
   */
  readonly durability?: InMemoryRaftStorage.Durability
  readonly syncChance?: number
  /** Most virtual ms an honest write takes to become durable (each draws 0..this; default 2). */
  readonly writeLatency?: number
}

/** Raised when a node's storage refuses a write or its restart finds corrupt state: a core bug. */
export class SimFault extends Error {}

export class SimCluster {
  now = 0
  readonly nodes = new Map<NodeId, SimNode>()
  readonly network: SimNetwork
  readonly observers: Array<SimObserver> = []
  /**
   * Drops a delivered message instead of handing it to the core, decided when the node's loop
   * takes it (the adversary withdraws a forged frame whose sender became a member of its target
   * meanwhile: a lying member is out of scope).
   */
  dropDue: ((m: InFlight) => boolean) | undefined = undefined
  private readonly coreSeeds: SimRandom
  private readonly diskRandom: SimRandom
  private readonly snapshotRandom: SimRandom
  private handles = 1
  /** Write completions due (honest disks), in issue order. */
  private readonly completions: Array<{ readonly at: number; readonly seq: number; readonly node: SimNode }> = []
  private completionSeq = 0
  /** Every disk is made `onSync` underneath: an honest write's durability is its completion event. */
  private readonly lying: boolean

  constructor(readonly options: SimClusterOptions) {
    this.network = new SimNetwork(new SimRandom(options.seed, 1))
    this.coreSeeds = new SimRandom(options.seed, 2)
    this.diskRandom = new SimRandom(options.seed, 6)
    this.snapshotRandom = new SimRandom(options.seed, 8)
    this.lying = options.durability === "onSync"
    for (const raw of options.ids) this.create(raw, options.bootstrapOf?.(raw) ?? options.bootstrap, this.newDisk())
  }

  /** A disk whose writes stay pending until `sync` (the completion event, or the lying disk's coin). */
  newDisk(): InMemoryRaftStorage.Disk {
    return InMemoryRaftStorage.Disk.make({ durability: "onSync" })
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
      driver: undefined,
      writing: undefined,
      writeDone: false,
      writingLast: 0,
      writingHard: undefined,
      ackedLast: 0,
      ackedHard: { term: 0, votedFor: null },
      disk,
      storage: disk.open(),
      sm: new KvStateMachine(),
      paused: false,
      pausedAt: 0,
      held: [],
      incarnation: 0,
      bootstrap,
      joinVia: (joinVia ?? this.options.joinViaOf?.(raw) ?? [...this.options.bootstrap.voters]) as ReadonlyArray<NodeId>,
      // Nodes snapshot at different points, so their compaction floors (and the InstallSnapshot
      // races between them) differ.
      snapshotEvery: every === undefined ? Infinity : this.snapshotRandom.int(Math.max(2, every >> 1), every * 2),
      retired: false,
      snapshotAsked: 0
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
    const node = this.create(id, bootstrap, disk ?? this.newDisk(), joinVia)
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
    node.snapshotAsked = 0
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
    node.writing = undefined
    node.writeDone = false
    node.ackedLast = node.core.log.lastIndex
    node.ackedHard = durable.hardState
    node.driver = this.driverFor(node, node.core)
    for (const o of this.observers) o.onStart?.(node)
    this.process(node)
  }

  /** The engine's drive loop for `node`, with this cluster's clock, network and disk. */
  private driverFor(node: SimNode, core: RaftCore): Driver<RaftMessage, DriverInput> {
    const storage = node.storage
    const fast = storageFastPathOf(storage)
    return new Driver<RaftMessage, DriverInput>(core, {
      now: () => this.now,
      maxPayload: () => this.options.maxPayload,
      // Decided as the loop takes the frame (it may have waited in a lane): see `dropDue`.
      decode: (from, message) =>
        this.dropDue !== undefined && this.dropDue({ at: this.now, seq: -1, from, to: node.id, message }) ? undefined : message,
      weigh: weighMessage,
      accepted: (input, result) => {
        if (input._tag === "Propose" && result !== undefined) throw new SimFault(`${node.id}: command unexpectedly over budget`)
        if (input._tag === "PublishSnapshot" && result === true) {
          for (const o of this.observers) o.onCompacted?.(node, input.throughIndex, input.state)
        }
      },
      write: (batch) => {
        for (const o of this.observers) o.onPersist?.(node, batch)
        const w = fast !== undefined ? fast.tryWrite(batch) : storage.write(batch)
        const written = w === undefined ? Either.right(undefined) : Effect.runSync(Effect.either(w))
        if (Either.isLeft(written)) throw new SimFault(`${node.id}: storage refused a write: ${written.left.message}`)
        node.writingLast = core.log.lastIndex
        node.writingHard = batch.hardState
        if (this.lying) {
          // The lying disk acknowledges at once and syncs only sometimes (disk-loss family).
          if (this.diskRandom.chance(this.options.syncChance ?? 1)) node.disk.sync()
          this.acknowledge(node)
          return true
        }
        const at = this.now + this.diskRandom.int(0, (this.options.writeLatency ?? 2) + 1)
        const seq = this.completionSeq++
        node.writing = { at, seq }
        this.completions.push({ at, seq, node })
        return false
      },
      send: (to, message) => {
        for (const o of this.observers) o.onSend?.(node, to, message)
        this.network.send(this.now, node.id, to, message)
      },
      deliver: (ready) => this.delivered(node, core, ready),
      settled: () => {},
      failed: (failure) => {
        // Every incarnation mints a fresh auto id: a fatal collision is a core bug here.
        if (failure._tag === "ClientIdCollision") throw new SimFault(`${node.id}: client id collision on ${failure.clientId}`)
        throw new SimFault(`${node.id}: write failed`)
      },
      received: (from, message, termBefore) => {
        for (const o of this.observers) o.onDelivered?.(node, from, message, termBefore)
      }
    })
  }

  /** The storage acknowledged the node's last write (for the invariants' acknowledged view). */
  private acknowledge(node: SimNode): void {
    node.ackedLast = node.writingLast
    if (node.writingHard !== undefined) node.ackedHard = node.writingHard
    node.writingHard = undefined
  }

  /**
   * The node dies: volatile state is lost; the disk keeps its durable part plus `keepPending` of
   * the pending batches. By default an honest disk's write in flight survives or not (a coin: it
   * may have reached the platter), and a lying disk keeps everything pending.
   */
  crash(id: string, keepPending?: InMemoryRaftStorage.CrashKeep): void {
    const node = this.node(id)
    if (node.core === undefined) return
    const keep = keepPending ?? (this.lying || node.disk.pendingBatches === 0 ? "all" : this.diskRandom.chance(0.5) ? "all" : "none")
    node.core = undefined
    node.driver = undefined
    node.writing = undefined
    node.writeDone = false
    node.paused = false
    node.held = []
    node.disk.crash({ keep })
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
    if (node.core !== undefined && !node.paused) {
      node.paused = true
      node.pausedAt = this.now
    }
  }

  resume(id: string): void {
    const node = this.node(id)
    if (!node.paused) return
    node.paused = false
    // As the engine notices a stall of its process (`Driver.stalled`).
    node.driver?.stalled(this.now, this.now - node.pausedAt)
    const held = node.held
    node.held = []
    for (const m of held) this.network.defer(m, this.now)
    if (node.writeDone) {
      node.writeDone = false
      this.completeWrite(node)
    }
  }

  /** The earliest time anything is due (a message, a write completing, a node timer). */
  nextEventAt(): number {
    let t = this.network.nextAt
    for (const c of this.completions) t = Math.min(t, c.at)
    for (const n of this.nodes.values()) {
      if (n.core !== undefined && !n.paused && n.writing === undefined) t = Math.min(t, n.core.nextDeadline())
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
      this.completeDue()
      for (const n of this.nodes.values()) {
        if (n.core === undefined || n.paused || n.writing !== undefined || n.core.nextDeadline() > this.now) continue
        this.process(n)
      }
    }
    this.now = Math.max(this.now, until)
  }

  /** Hands every due message to its node's loop, then runs each node that received one. */
  private deliverDue(): void {
    for (;;) {
      const touched: Array<SimNode> = []
      for (;;) {
        const m = this.network.popDue(this.now)
        if (m === undefined) break
        // A reply to an adversary's forged identity reaches no simulated machine.
        const node = this.nodes.get(m.to)
        if (node === undefined || node.driver === undefined) continue
        if (node.paused) {
          node.held.push(m)
          continue
        }
        this.network.stats.delivered++
        node.driver.deliver(m.from, m.message)
        if (!touched.includes(node)) touched.push(node)
      }
      if (touched.length === 0) return
      for (const node of touched) if (node.driver !== undefined && node.writing === undefined) this.process(node)
    }
  }

  /** Completes the writes due now (fsync done: durable, then acknowledged to the loop). */
  private completeDue(): void {
    const list = this.completions
    for (;;) {
      let next = -1
      for (let i = 0; i < list.length; i++) {
        const c = list[i]!
        if (c.at <= this.now && (next < 0 || c.at < list[next]!.at || (c.at === list[next]!.at && c.seq < list[next]!.seq))) next = i
      }
      if (next < 0) return
      const c = list.splice(next, 1)[0]!
      const node = c.node
      // A crash in between dropped the write (the coin decided what the disk kept).
      if (node.writing === undefined || node.writing.seq !== c.seq) continue
      node.disk.sync()
      if (node.paused) node.writeDone = true
      else this.completeWrite(node)
    }
  }

  private completeWrite(node: SimNode): void {
    node.writing = undefined
    this.acknowledge(node)
    node.driver?.persisted()
    this.process(node)
  }

  /** Runs one node's drive loop until it has nothing left to do at this instant (or waits for a write). */
  process(node: SimNode): void {
    const driver = node.driver
    if (driver === undefined || node.paused) return
    driver.run()
    for (const o of this.observers) o.onStep?.(node)
  }

  /** What the loop delivers after a Ready's write and sends: the consumer applies, callers hear back. */
  private delivered(node: SimNode, core: RaftCore, ready: Ready): void {
    if (ready.trace.length > 0) for (const o of this.observers) o.onTrace?.(node, ready.trace)
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

  /**
   * The consumer publishes its state every `snapshotEvery` applied entries (as `publishSnapshot`
   * does: an input the loop hands the core at its next turn); the core compacts.
   */
  private maybeCompact(node: SimNode, core: RaftCore): void {
    const through = node.sm.applied
    if (through - core.log.snapshotIndex < node.snapshotEvery || through <= node.snapshotAsked) return
    node.snapshotAsked = through
    node.driver?.submit({ _tag: "PublishSnapshot", throughIndex: through, state: node.sm.snapshot() })
  }

  /** The node's loop, when it is usable for a request (running, not paused). */
  private live(id: string): Driver<RaftMessage, DriverInput> | undefined {
    const node = this.nodes.get(id as NodeId)
    return node === undefined || node.core === undefined || node.paused ? undefined : node.driver
  }

  /** Hands `input` to `id`'s loop and runs it; false when the node is down or paused. */
  private call(id: string, input: DriverInput): boolean {
    const driver = this.live(id)
    if (driver === undefined) return false
    driver.submit(input)
    const node = this.node(id)
    if (node.writing === undefined) this.process(node)
    return true
  }

  /**
   * Proposes on a node (under `requestId` when the caller pins it, as a retry does); returns false
   * if the node is down (the client sees no answer).
   */
  propose(id: string, handle: number, command: Uint8Array, requestId?: number): boolean {
    return this.call(id, { _tag: "Propose", handle, command, requestId })
  }

  /** A linearizable read: `readIndex` (leader only) or a read fence (any role). */
  read(id: string, handle: number, via: "readIndex" | "readFence"): boolean {
    return this.call(id, { _tag: "Read", handle, mode: via === "readIndex" ? "Leader" : "Fence" })
  }

  changeMembership(id: string, handle: number, target: ClusterConfig): boolean {
    return this.call(id, { _tag: "ChangeMembership", handle, target })
  }

  transferLeadership(id: string, handle: number, target: string): boolean {
    return this.call(id, { _tag: "Transfer", handle, target: target as NodeId })
  }

  cancelTransfer(id: string): void {
    this.call(id, { _tag: "CancelTransfer" })
  }

  cancel(id: string, handle: number): void {
    const node = this.node(id)
    if (node.driver === undefined) return
    node.driver.submit({ _tag: "Cancel", handle })
    if (!node.paused && node.writing === undefined) this.process(node)
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
