/**
 * The one drive loop of a `RaftCore` (docs/ARCHITECTURE.md, "Raft"), in plain TypeScript. The
 * engine (`Engine.ts`, its Effect shell), the simulator (`src/testing/sim/SimCluster.ts`) and the
 * test kit's `CoreCluster` all run this same code with their own clock, network and storage, so a
 * change to the loop is a change to what the simulator checks.
 *
 * One turn:
 * 1. every control frame waiting (votes, heartbeats, acknowledgements: `FrameLanes.ts`), then bulk
 *    frames and API inputs up to the turn's budget, each handed to the core stamped with the clock
 *    read when it is handled (a leader elected late in a long turn gets a full CheckQuorum window);
 * 2. the core's timers, only now: a CheckQuorum or an election timeout fires after the frames that
 *    arrived before it were read, never while acknowledgements sit unread (and, while bulk frames
 *    are still queued, not until `postponeTickMs` has passed);
 * 3. the core's `Ready`: ONE storage write (group commit), then `onPersisted`, then its messages,
 *    then `deliver` (publish committed entries, resolve callers, trace and metrics) — repeated
 *    while the core has more to say. Nothing leaves before the write it depends on is durable.
 *
 * The write may complete later (`ports.write` returns false; the owner calls `persisted` or
 * `writeFailed` when it does): the loop then waits, inputs queue, and no timer fires until the
 * write is done. The engine runs one turn per fiber step and yields between turns; a simulator
 * calls `run`, which turns until nothing is left to do at this instant.
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import type { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { WriteBatch } from "../../../services/raft/RaftStorage.js"
import type { Oversize } from "../core/Forwarding.js"
import type { RaftCore } from "../core/RaftCore.js"
import type { Ready } from "../core/Ready.js"
import { FrameQueue } from "./FrameLanes.js"
import { Mailbox } from "./Mailbox.js"
import { toWriteBatch } from "./WriteBatch.js"

/** What the loop hands the core besides frames: API calls and the transport's peer set. */
export type DriverInput =
  | { readonly _tag: "Propose"; readonly handle: number; readonly command: Uint8Array; readonly requestId: number | undefined }
  | { readonly _tag: "Cancel"; readonly handle: number }
  | { readonly _tag: "Read"; readonly handle: number; readonly mode: "Leader" | "Fence" }
  | { readonly _tag: "Transfer"; readonly handle: number; readonly target: NodeId }
  | { readonly _tag: "CancelTransfer" }
  | { readonly _tag: "ChangeMembership"; readonly handle: number; readonly target: ClusterConfig }
  | { readonly _tag: "PublishSnapshot"; readonly throughIndex: number; readonly state: Uint8Array }
  /** The transport's peer set changed (forwards to a departed peer fail). */
  | { readonly _tag: "Peers"; readonly peers: ReadonlySet<NodeId> }

/**
 * What the core answered when it took an input: for `Propose`, the oversize report when the
 * command exceeds the payload budget (nothing entered the log); for `PublishSnapshot`, whether it
 * compacted; `undefined` otherwise.
 */
export type Accepted = Oversize | boolean | undefined

/** Why the loop stopped on its own (fail-stop). */
export type DriverFailure<E> =
  | { readonly _tag: "ClientIdCollision"; readonly clientId: ClientId }
  | { readonly _tag: "WriteFailed"; readonly error: E }

/** How much one turn takes on before it writes, sends and lets the owner yield. */
export interface TurnBudget {
  /** Most bulk frames handled in one turn (at least one is, whatever its weight). */
  readonly bulkFrames: number
  /** Most bulk weight (bytes) handled in one turn. */
  readonly bulkBytes: number
  /** Most proposals handed to the core in one turn (other inputs are cheap and not counted). */
  readonly proposals: number
  /**
   * While bulk frames are still queued, a due timer waits up to this long (ms) for them: they may
   * hold the leader's contact that would make an election timeout moot.
   */
  readonly postponeTickMs: number
}

export const DEFAULT_TURN_BUDGET: TurnBudget = {
  bulkFrames: 256,
  bulkBytes: 512 * 1024,
  proposals: 1024,
  postponeTickMs: 20
}

/** The loop's connections to the world; each owner (engine, simulator, test kit) provides its own. */
export interface DriverPorts<F, I extends DriverInput, E> {
  /** The clock (ms), read at each turn's start and for every frame handled. */
  readonly now: () => number
  /** The transport's payload budget now (`undefined`: unknown). */
  readonly maxPayload: () => number | undefined
  /** Decodes a frame; `undefined` when it cannot be (the port traces and counts it). */
  readonly decode: (from: NodeId, frame: F, now: number) => RaftMessage | undefined
  /** 0 for a control frame, else its weight (bytes) against the turn's bulk budget (see `FrameLanes.ts`). */
  readonly weigh: (frame: F) => number
  /** The core took `input` (see `Accepted`). Called after the core did. */
  readonly accepted: (input: I, result: Accepted, now: number) => void
  /** Called before the core takes `input` (a waiter is registered before its answer can exist). */
  readonly taking?: (input: I, now: number) => void
  /**
   * Writes `batch` durably: true when it is durable on return; false when it completes later — the
   * owner then calls `persisted()` (or `writeFailed`) exactly once.
   */
  readonly write: (batch: WriteBatch) => boolean
  readonly send: (to: NodeId, message: RaftMessage) => void
  /** After a Ready's write and sends: publish its committed items, resolve its callers, trace, metrics. */
  readonly deliver: (ready: Ready) => void
  /** The core has nothing more to say for now (publish state). */
  readonly settled: () => void
  /** The loop stopped itself; nothing more is written or sent. */
  readonly failed: (failure: DriverFailure<E>) => void
  /** A frame was handled; `termBefore` was the node's term before it (simulator checks). */
  readonly received?: (from: NodeId, message: RaftMessage, termBefore: number) => void
}

/** The voters of `config` (both halves of a joint one), cached by identity. */
const votersOf = (config: ConfigPayload, cache: { config: ConfigPayload | undefined; voters: ReadonlySet<string> }) => {
  if (cache.config !== config) {
    cache.config = config
    cache.voters = config.old === undefined ? config.new.voters : new Set([...config.old.voters, ...config.new.voters])
  }
  return cache.voters
}

export class Driver<F, I extends DriverInput, E = never> {
  /** API inputs, in call order. */
  readonly inputs: Mailbox<I>
  private readonly control = new FrameQueue<F>()
  private readonly bulk = new FrameQueue<F>()
  /** The Ready whose write is in flight (the loop waits for it). */
  private writing: Ready | undefined = undefined
  private spare: Ready | undefined = undefined
  private stopped = false
  /** When a due timer was first postponed behind queued bulk frames (`Infinity`: none is). */
  private dueSince = Infinity
  private readonly voterCache: { config: ConfigPayload | undefined; voters: ReadonlySet<string> } = {
    config: undefined,
    voters: new Set()
  }

  constructor(
    readonly core: RaftCore,
    private readonly ports: DriverPorts<F, I, E>,
    readonly budget: TurnBudget = DEFAULT_TURN_BUDGET,
    notify?: () => void
  ) {
    this.inputs = new Mailbox<I>(notify)
  }

  // ------------------------------------------------------------ producers

  /** A frame arrived from `from`: it waits in its lane for the next turn. */
  readonly deliver = (from: NodeId, frame: F): void => {
    if (this.stopped) return
    const weight = this.ports.weigh(frame)
    if (weight === 0 && votersOf(this.core.config, this.voterCache).has(from)) this.control.push(from, frame, 0)
    else this.bulk.push(from, frame, weight === 0 ? 1 : weight)
  }

  /** Queues an API input for the next turn. */
  submit(input: I): void {
    if (!this.stopped) this.inputs.push(input)
  }

  // ------------------------------------------------------------ state

  /** Frames or inputs are waiting. */
  hasInput(): boolean {
    return this.control.size > 0 || this.bulk.size > 0 || this.inputs.size > 0
  }

  /** A write is in flight: no turn runs until it completes. */
  get blocked(): boolean {
    return this.writing !== undefined
  }

  get isStopped(): boolean {
    return this.stopped
  }

  /** When the next turn is needed without any input (the core's next timer). */
  nextDeadline(): number {
    return this.core.nextDeadline()
  }

  /**
   * When the next timer that deposes someone is due: a leader's CheckQuorum, a voter's election
   * timeout (`Infinity`: none). The engine reads the sockets once more before such a turn.
   */
  deposingDeadline(): number {
    const c = this.core
    return c.role === "Leader" ? c.checkQuorumDeadline : c.isVoter ? c.electionDeadline : Infinity
  }

  /** When `stalled` last gave the deposing timers a fresh window. */
  private lastGrace = -Infinity

  /**
   * The owner was not running for `ms` until `now`: a stall (GC, a long turn, the machine not
   * scheduling the process, SIGSTOP). Silence while we were not listening is no evidence that our
   * peers are gone, and when the whole cluster stalled at once (the same log growth, the same
   * overloaded machine) their frames are not even in the socket yet: the timers that would depose
   * someone — a leader's CheckQuorum, a voter's election timeout — get a fresh window of
   * `electionTimeoutMin` from now (a leader still heartbeats at once). At most once per
   * `electionTimeoutMax`, so a node that stalls without end still times out. Liveness only:
   * safety never depends on timing.
   */
  stalled(now: number, ms: number): void {
    const c = this.core
    if (ms <= 0 || now - this.lastGrace < c.cfg.electionTimeoutMax) return
    this.lastGrace = now
    const until = now + c.cfg.electionTimeoutMin
    // The core's timer fields (`Timers.ts`); only deadlines already armed are moved.
    if (c.role === "Leader") {
      if (c.checkQuorumDeadline < until) c.checkQuorumDeadline = until
    } else if (c.isVoter && c.electionDeadline < until) {
      c.electionDeadline = until
    }
  }

  // ------------------------------------------------------------ the loop

  /**
   * Turns until nothing is left to do at this instant: no input waiting, no timer due, or a write
   * in flight. For owners that drive the loop synchronously (simulators); the engine yields between
   * turns instead.
   */
  run(): void {
    for (let turns = 0;; turns++) {
      this.turn()
      if (this.stopped || this.writing !== undefined) return
      if (!this.hasInput()) return
      if (turns > 1_000_000) throw new Error(`${this.core.id}: the drive loop did not settle`)
    }
  }

  /** One turn (see the module comment). A no-op while a write is in flight or after a stop. */
  turn(): void {
    if (this.stopped || this.writing !== undefined) return
    const core = this.core
    const ports = this.ports
    core.maxPayload = ports.maxPayload()
    while (this.control.size > 0) this.control.shift(this.onFrame)
    const budget = this.budget
    let frames = 0
    let bytes = 0
    while (this.bulk.size > 0 && (frames === 0 || (frames < budget.bulkFrames && bytes < budget.bulkBytes))) {
      bytes += this.bulk.peekWeight()
      frames++
      this.bulk.shift(this.onFrame)
      // Control frames can only arrive between turns (handled above); nothing new to interleave.
    }
    this.proposalsLeft = budget.proposals
    if (this.inputs.size > 0) this.inputs.drain(this.onInput)
    const now = ports.now()
    if (core.nextDeadline() <= now) {
      if (this.bulk.size === 0 || now - this.dueSince >= budget.postponeTickMs) {
        this.dueSince = Infinity
        core.tick(now)
      } else if (this.dueSince === Infinity) {
        this.dueSince = now
      }
    }
    const spare = this.spare
    this.spare = undefined
    this.process(core.takeReady(spare))
  }

  private proposalsLeft = 0

  private readonly onFrame = (from: string, frame: F): void => {
    const now = this.ports.now()
    const message = this.ports.decode(from as NodeId, frame, now)
    if (message === undefined) return
    const core = this.core
    const received = this.ports.received
    if (received === undefined) {
      core.receive(from as NodeId, message, now)
      return
    }
    const termBefore = core.term
    core.receive(from as NodeId, message, now)
    received(from as NodeId, message, termBefore)
  }

  /** Hands one input to the core; false (stop taking inputs this turn) once the proposal budget is spent. */
  private readonly onInput = (input: I): boolean => {
    const core = this.core
    const ports = this.ports
    const now = ports.now()
    ports.taking?.(input, now)
    let result: Accepted = undefined
    switch (input._tag) {
      case "Propose":
        result = core.propose(input.handle, input.command, input.requestId, now)
        break
      case "Cancel":
        core.cancel(input.handle)
        break
      case "Read":
        if (input.mode === "Leader") core.readIndex(input.handle, now)
        else core.readFence(input.handle, now)
        break
      case "Transfer":
        core.transferLeadership(input.handle, input.target, now)
        break
      case "CancelTransfer":
        core.cancelTransfer(now)
        break
      case "ChangeMembership":
        core.changeMembership(input.handle, input.target, now)
        break
      case "PublishSnapshot":
        result = core.compact(input.throughIndex, input.state, now)
        break
      case "Peers":
        core.peersChanged(input.peers, now)
        break
    }
    ports.accepted(input, result, now)
    return input._tag !== "Propose" || --this.proposalsLeft > 0
  }

  /** Works through `ready`, then through every `Ready` the core produces after it. */
  private process(ready: Ready): void {
    const core = this.core
    for (;;) {
      if (ready.isEmpty) {
        this.spare = ready
        this.ports.settled()
        return
      }
      const fatal = core.collisions.fatal
      if (fatal !== undefined) {
        // Thesis §6.3: a second live writer under our durable client id; fail-stop before acting.
        return this.stop({ _tag: "ClientIdCollision", clientId: fatal })
      }
      if (ready.hasPersist && !this.ports.write(toWriteBatch(ready.persist))) {
        this.writing = ready
        return
      }
      ready = this.afterWrite(ready)
      if (this.stopped) return
    }
  }

  /** `ready`'s write is durable: tell the core, send, deliver; returns the next Ready. */
  private afterWrite(ready: Ready): Ready {
    const core = this.core
    core.onPersisted()
    const ports = this.ports
    const messages = ready.messages
    for (let i = 0; i < messages.length; i++) {
      const out = messages[i]!
      ports.send(out.to, out.message)
    }
    ports.deliver(ready)
    return core.takeReady(ready)
  }

  /** The write in flight is durable: the loop goes on where it stopped. */
  persisted(): void {
    const ready = this.writing
    if (ready === undefined || this.stopped) return
    this.writing = undefined
    this.process(this.afterWrite(ready))
  }

  /** The write in flight failed: fail-stop (a node that cannot persist must not go on). */
  writeFailed(error: E): void {
    if (this.writing === undefined || this.stopped) return
    this.writing = undefined
    this.stop({ _tag: "WriteFailed", error })
  }

  /** Stops the loop: nothing more is taken, written or sent. */
  stop(failure?: DriverFailure<E>): void {
    if (this.stopped) return
    this.stopped = true
    this.control.clear()
    this.bulk.clear()
    if (failure !== undefined) this.ports.failed(failure)
  }
}
