/**
 * The Effect shell around the drive loop (`Driver.ts`; docs/ARCHITECTURE.md, "Raft"): one fiber
 * owns the core and runs the loop's turns, with the engine's ports — the transport's frames and
 * sends, the storage's write, the callers (`Calls`), the observable surfaces (`Publisher`).
 *
 * Between turns the fiber yields (a microtask; a macrotask after `MACROTASK_YIELD_MS` of
 * back-to-back turns), so sockets and timers are never starved, and an idle engine parks on its
 * doorbell until an input arrives or the core's next deadline (`WakeTimer`). Before a turn in which
 * a timer that deposes someone is due (a leader's CheckQuorum, a voter's election timeout) it
 * yields one macrotask first: after a stall of the process — its own work, GC, or the machine not
 * running it — the followers' acknowledgements (the leader's heartbeats) are still in the socket,
 * and the event loop runs due timers before it polls for I/O. And when the fiber itself ran late
 * (it woke long after its deadline, a yield or a turn took long: `noteGap`), it tells the loop
 * (`Driver.stalled`), which gives those timers a fresh window: a stall is no evidence that the
 * peers are gone.
 *
 * Performance rules (docs/ARCHITECTURE.md, "Raft") and how they are met here:
 * - callers wait through `Effect.async` callbacks kept in plain structures, watched through their
 *   fibers rather than through a canceler per call (`Calls`, `Callers`);
 * - a turn runs without Effects when it can: storages and transports may carry synchronous fast
 *   paths (`StorageFastPath`, `TransportFastPath`), observable state lives in `Cell`s set in
 *   place, and streams without subscribers are neither built nor published (`Publisher.listen`);
 *   what does need an Effect (a write, a send, a publish) is queued by the port and run after the
 *   loop's step, in order;
 * - the same AppendEntries for several followers is encoded once (`Outbox`).
 */
import { Effect, Option } from "effect"
import type { Clock } from "effect"
import { decodeRaftMessage } from "../../codec/raft/RaftCodec.js"
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { ClientIdCollision } from "../../../services/raft/RaftErrors.js"
import type { StorageError } from "../../../services/raft/RaftErrors.js"
import type { RaftHealth, RaftNodeFailure } from "../../../services/raft/RaftNode.js"
import type { RaftStorageShape, WriteBatch } from "../../../services/raft/RaftStorage.js"
import { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RaftMetric } from "../../../services/raft/RaftTrace.js"
import type { RaftTransportShape } from "../../../services/raft/RaftTransport.js"
import { storageFastPathOf } from "../../../services/raft/StorageFastPath.js"
import type { RaftStorageFastPath } from "../../../services/raft/StorageFastPath.js"
import { fastPathOf } from "../../../services/raft/TransportFastPath.js"
import type { FrameSource, RaftTransportFastPath } from "../../../services/raft/TransportFastPath.js"
import type { Oversize } from "../core/Forwarding.js"
import type { RaftCore } from "../core/RaftCore.js"
import type { Ready } from "../core/Ready.js"
import { Calls } from "./Calls.js"
import { Doorbell } from "./Doorbell.js"
import { DEFAULT_TURN_BUDGET, Driver } from "./Driver.js"
import type { Accepted, DriverFailure, DriverPorts, TurnBudget } from "./Driver.js"
import { weighFrame } from "./FrameWeight.js"
import type { Input } from "./Inputs.js"
import { Outbox } from "./Outbox.js"
import { Publisher } from "./Publisher.js"
import type { Surfaces } from "./Publisher.js"
import { EngineMetrics } from "./RaftMetrics.js"
import { WakeTimer } from "./WakeTimer.js"

export type { Input, ProposeInput } from "./Inputs.js"
export type { Surfaces } from "./Publisher.js"
export { toWriteBatch } from "./WriteBatch.js"

/**
 * Longest stretch (Clock ms) of back-to-back turns before the engine yields a macrotask
 * (`Effect.sleep(0)`), so sockets and timers are never starved. Measured in time, not turns: a
 * real-clock `sleep(0)` is a ~1 ms `setTimeout`, which every 64 short turns cost a busy leader
 * a third of its throughput; under `TestClock` time stands still while the engine is busy, so
 * this never fires there (and `sleep(0)` would not wait anyway).
 */
const MACROTASK_YIELD_MS = 10

/** The `WedgeSuspected` metric among a turn's metrics, if any (rare: scanned, not indexed). */
const wedgeOf = (metrics: ReadonlyArray<RaftMetric>): Extract<RaftMetric, { _tag: "WedgeSuspected" }> | undefined => {
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i]!
    if (m._tag === "WedgeSuspected") return m
  }
  return undefined
}

export interface EngineOptions {
  /** `RaftConfig.maxPendingProposals`. */
  readonly maxPendingProposals: number
  /** The loop's per-turn budget (default `DEFAULT_TURN_BUDGET`). */
  readonly budget?: TurnBudget
}

export class Engine {
  private readonly doorbell = new Doorbell()
  /** The drive loop, with this engine's ports. */
  readonly driver: Driver<Uint8Array, Input, StorageError>
  private readonly stats: EngineMetrics
  /** The API side: calls in, callers answered. */
  readonly calls: Calls
  /** State cells and streams. */
  readonly publisher: Publisher
  private readonly outbox: Outbox
  /** The transport's synchronous send and frame source, when it has them. */
  private readonly fast: RaftTransportFastPath | undefined
  /** The storage's synchronous write, when it has one. */
  private readonly storageFast: RaftStorageFastPath | undefined
  /** Frames drained straight from the transport (see `attachFrames`); else `receive` feeds them. */
  private frames: FrameSource | undefined = undefined
  /** Effects the ports queued during a loop step (sends, publishes, logs), run in order after it. */
  private effects: Array<Effect.Effect<void>> = []
  /** The write the loop waits for (`ports.write` returned false). */
  private pendingWrite: Effect.Effect<void, StorageError> | undefined = undefined

  constructor(
    readonly core: RaftCore,
    readonly transport: RaftTransportShape,
    readonly storage: RaftStorageShape,
    surfaces: Surfaces,
    private readonly clock: Clock.Clock,
    options: EngineOptions
  ) {
    this.stats = new EngineMetrics(core.id)
    this.fast = fastPathOf(transport)
    this.storageFast = storageFastPathOf(storage)
    this.outbox = new Outbox(transport, this.fast)
    this.publisher = new Publisher(core, surfaces)
    this.driver = new Driver(core, this.ports(), options.budget ?? DEFAULT_TURN_BUDGET, this.doorbell.ring)
    this.calls = new Calls(this.driver.inputs, this.stats, options.maxPendingProposals)
  }

  /**
   * Takes the transport's frames straight from its fast path, moved into the loop at the start of
   * each turn, instead of through a pump fiber. False when the transport has no fast path or its
   * frames were already collected: then feed them through `receive`.
   */
  attachFrames(): boolean {
    const source = this.fast?.collect(this.doorbell.ring)
    if (source === undefined) return false
    this.frames = source
    return true
  }

  /** A frame from a transport without a fast path (its pump fiber calls this). */
  receive(from: NodeId, bytes: Uint8Array): void {
    this.driver.deliver(from, bytes)
    this.doorbell.ring()
  }

  /** The transport's peer set changed. */
  peersChanged(peers: ReadonlySet<NodeId>): void {
    this.driver.submit({ _tag: "Peers", peers })
  }

  // ------------------------------------------------------------ the ports

  private ports(): DriverPorts<Uint8Array, Input, StorageError> {
    const clock = this.clock
    return {
      now: () => clock.unsafeCurrentTimeMillis(),
      maxPayload: () => Option.getOrUndefined(this.transport.maxPayloadBytes),
      decode: (from, bytes, now) => this.decode(from, bytes, now),
      weigh: weighFrame,
      taking: (input) => this.taking(input),
      accepted: (input, result, now) => this.accepted(input, result, now),
      write: (batch) => this.write(batch),
      send: (to, message) => this.send(to, message),
      deliver: (ready) => this.deliver(ready),
      settled: () => this.publisher.state(),
      failed: (failure) => this.failed(failure)
    }
  }

  private decode(from: NodeId, bytes: Uint8Array, now: number): RaftMessage | undefined {
    const decoded = decodeRaftMessage(bytes)
    if (decoded._tag === "Right") {
      this.stats.frame("in", decoded.right._tag)
      return decoded.right
    }
    const core = this.core
    core.trace(RaftTraceEvent.FrameUndecodable({
      at: now,
      node: core.id,
      from,
      byteCount: bytes.byteLength,
      reason: decoded.left.reason
    }))
    this.stats.undecodable()
    return undefined
  }

  /** Registers the caller that will wait for `input`'s outcome (before the core can answer it). */
  private taking(input: Input): void {
    switch (input._tag) {
      case "Cancel":
        return this.calls.cancelled(input.handle)
      case "Read":
      case "Transfer":
        return this.calls.requested(input.handle, input.waiter)
      case "ChangeMembership":
        return this.calls.changeRequested(input.handle, input.resume)
      case "Propose":
      case "CancelTransfer":
      case "PublishSnapshot":
      case "Peers":
        return
    }
  }

  private accepted(input: Input, result: Accepted, now: number): void {
    if (input._tag !== "Propose") return
    if (result !== undefined && typeof result !== "boolean") this.calls.tooLarge(input, result as Oversize)
    else this.calls.proposed(input, now)
  }

  private write(batch: WriteBatch): boolean {
    const write = this.storageFast !== undefined ? this.storageFast.tryWrite(batch) : this.storage.write(batch)
    if (write === undefined) return true
    this.pendingWrite = write
    return false
  }

  private send(to: NodeId, message: RaftMessage): void {
    this.stats.frame("out", message._tag)
    const send = this.outbox.send(to, message)
    if (send !== undefined) this.effects.push(send)
  }

  /** A Ready's write is durable and its messages are out: publish, resolve, trace, meter. */
  private deliver(ready: Ready): void {
    this.outbox.reset()
    const core = this.core
    const publisher = this.publisher
    publisher.committed()
    this.calls.resolve(ready, core.now, publisher.feed.through, core.metering, core.cfg.slowProposeThreshold)
    const slow = this.calls.slow
    if (slow.length > 0) {
      const threshold = core.cfg.slowProposeThreshold
      this.effects.push(Effect.forEach(
        slow.splice(0),
        ({ elapsedMs, index }) =>
          Effect.logWarning(`slow proposal: index ${index} committed ${elapsedMs} ms after it was proposed (slowProposeThreshold ${threshold} ms)`).pipe(
            Effect.annotateLogs({ node: core.id, index, elapsedMs })
          ),
        { discard: true }
      ))
    }
    const tracing = publisher.trace(ready.trace)
    if (tracing !== undefined) this.effects.push(Effect.asVoid(tracing))
    const metrics = ready.metrics
    if (metrics.length > 0) {
      const wedge = wedgeOf(metrics)
      if (wedge !== undefined) {
        this.effects.push(Effect.logWarning(
          `suspected wedge (${wedge.reason}): leader ${wedge.leader ?? "unknown"} at term ${wedge.leaderTerm}, ` +
            `our term ${wedge.term}, commit ${wedge.commitIndex}, applied ${wedge.appliedIndex}`
        ).pipe(Effect.annotateLogs({ node: core.id, reason: wedge.reason })))
      }
      const publishing = publisher.metrics(metrics)
      if (publishing !== undefined) this.effects.push(Effect.asVoid(publishing))
      this.stats.record(metrics)
    }
  }

  private failed(failure: DriverFailure<StorageError>): void {
    const error: RaftNodeFailure = failure._tag === "WriteFailed"
      ? failure.error
      : new ClientIdCollision({ clientId: failure.clientId })
    this.effects.push(this.fail(error))
  }

  // ------------------------------------------------------------ the owning fiber

  /**
   * Runs turns until the node closes or fails. An idle engine parks on its doorbell until an input
   * arrives or the core's next deadline (`WakeTimer`); a wake-up that finds nothing due parks again
   * without taking a turn.
   */
  readonly run: Effect.Effect<void> = Effect.gen(this, function*() {
    const clock = this.clock
    const driver = this.driver
    const timer = new WakeTimer(this.doorbell, clock)
    this.publisher.state()
    const stallMs = Math.max(20, this.core.cfg.electionTimeoutMin / 3)
    /** A gap longer than `stallMs` between when the fiber expected to run and when it did is a stall. */
    const noteGap = (expectedAt: number, now: number) => {
      if (now - expectedAt > stallMs) driver.stalled(now, now - expectedAt)
    }
    let busySince = clock.unsafeCurrentTimeMillis()
    /** The deposing deadline the engine last yielded to I/O for (once per deadline). */
    let polledFor = -1
    while (!this.calls.closed && !driver.isStopped) {
      this.doorbell.clear()
      let now = clock.unsafeCurrentTimeMillis()
      if (!this.hasInput() && driver.nextDeadline() > now) {
        const deadline = driver.nextDeadline()
        yield* timer.park(deadline)
        now = clock.unsafeCurrentTimeMillis()
        noteGap(deadline, now)
        busySince = now
        if (!this.hasInput() && driver.nextDeadline() > now) continue
      } else if (now - busySince >= MACROTASK_YIELD_MS) {
        yield* Effect.sleep(0)
        busySince = clock.unsafeCurrentTimeMillis()
        noteGap(now, busySince)
      } else {
        yield* Effect.yieldNow()
        noteGap(now, clock.unsafeCurrentTimeMillis())
      }
      const deposing = driver.deposingDeadline()
      if (deposing <= clock.unsafeCurrentTimeMillis() && deposing !== polledFor) {
        // Read the sockets before a timer that deposes someone fires (see the module comment).
        polledFor = deposing
        const before = clock.unsafeCurrentTimeMillis()
        yield* Effect.sleep(0)
        noteGap(before, clock.unsafeCurrentTimeMillis())
      }
      const frames = this.frames
      if (frames !== undefined && frames.pending() > 0) frames.drain(driver.deliver)
      const started = clock.unsafeCurrentTimeMillis()
      driver.turn()
      if (this.effects.length > 0 || this.pendingWrite !== undefined) yield* this.finishStep
      // A turn (with its write) that ran this long was a stall for everyone waiting on us.
      noteGap(started, clock.unsafeCurrentTimeMillis())
    }
  })

  /** Runs what the ports queued, and the write the loop waits for, until the loop needs neither. */
  private readonly finishStep: Effect.Effect<void> = Effect.gen(this, function*() {
    for (;;) {
      if (this.effects.length > 0) {
        const effects = this.effects
        this.effects = []
        for (const effect of effects) yield* effect
      }
      const write = this.pendingWrite
      if (write === undefined) return
      this.pendingWrite = undefined
      const written = yield* Effect.either(write)
      if (written._tag === "Left") this.driver.writeFailed(written.left)
      else this.driver.persisted()
    }
  })

  private hasInput(): boolean {
    return this.driver.hasInput() || (this.frames !== undefined && this.frames.pending() > 0)
  }

  /** The node's health now (see `RaftHealth`). */
  health(): RaftHealth {
    const c = this.core
    const w = c.wedge
    const s = w.suspected
    const stopped = this.calls.closed
    return {
      node: c.id,
      role: stopped ? "Follower" : c.role,
      term: c.term,
      leader: stopped ? null : c.leader ?? null,
      commitIndex: c.commitIndex,
      appliedIndex: this.publisher.feed.through,
      lastAppliedAdvanceAt: w.appliedAt,
      leaderCommitIndex: c.role === "Leader" ? c.commitIndex : w.leaderCommit,
      // Observability (product: the match-lag gauges and the status table).
      lastLogIndex: c.log.lastIndex,
      followers: c.role === "Leader" && !stopped ? [...c.progress].map(([id, p]) => ({ id, matchIndex: p.match })) : [],
      wedge: s === undefined ? null : { reason: s.reason, since: s.since, leader: s.leader ?? null, leaderTerm: s.leaderTerm },
      stopped
    }
  }

  /** Fail-stop: a node that cannot persist, or whose durable client id is shared, must not go on. */
  private fail(error: RaftNodeFailure): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.calls.failed(error)
      return this.shutdown(`node stopped: ${error.message}`)
    })
  }

  /** Closes the node: every waiting caller gets a typed failure and the streams end. */
  shutdown(reason: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.driver.stop()
      return this.calls.close(reason) ? this.publisher.close() : Effect.void
    })
  }
}
