/**
 * The Effect shell around `RaftCore` (docs/ARCHITECTURE.md, "Raft"): one fiber owns the core. Each turn it
 * drains the transport's frames and the mailbox (proposals, cancellations, cuts...), fires due
 * timers, takes the core's `Ready`, performs ONE storage write (group commit), acknowledges it to
 * the core, and only then sends, publishes and resolves callers.
 *
 * This file is the turn loop; its rooms are beside it: `Calls` (API calls and the callers waiting
 * on them), `Publisher` (state cells and streams), `Outbox` (sending), `WakeTimer` (parking until
 * the next input or deadline), `WriteBatch` (a turn's persistence).
 *
 * Performance rules (docs/ARCHITECTURE.md, "Raft") and how they are met here:
 * - callers wait through `Effect.async` callbacks kept in plain structures, watched through their
 *   fibers rather than through a canceler per call (`Calls`, `Callers`);
 * - an idle engine parks on its mailbox; one timer fiber serves the next deadline (`WakeTimer`);
 * - a turn runs without Effects when it can: storages and transports may carry synchronous fast
 *   paths (`StorageFastPath`, `TransportFastPath`), observable state lives in `Cell`s set in
 *   place, and streams without subscribers are neither built nor published (`Publisher.listen`);
 * - the same AppendEntries for several followers is encoded once (`Outbox`).
 */
import { Effect, Option } from "effect"
import { decodeRaftMessage } from "../../codec/raft/RaftCodec.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { ClientIdCollision, PayloadTooLarge } from "../../../services/raft/RaftErrors.js"
import type { RaftHealth, RaftNodeFailure } from "../../../services/raft/RaftNode.js"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RaftMetric } from "../../../services/raft/RaftTrace.js"
import type { RaftTransportShape } from "../../../services/raft/RaftTransport.js"
import type { RaftCore } from "../core/RaftCore.js"
import type { Ready } from "../core/Ready.js"
import { Calls } from "./Calls.js"
import { answer } from "./Inputs.js"
import type { Input } from "./Inputs.js"
import { Mailbox } from "./Mailbox.js"
import { Outbox } from "./Outbox.js"
import { Publisher } from "./Publisher.js"
import type { Surfaces } from "./Publisher.js"
import { EngineMetrics } from "./RaftMetrics.js"
import { later } from "./Step.js"
import type { Step } from "./Step.js"
import { storageFastPathOf } from "../../../services/raft/StorageFastPath.js"
import type { RaftStorageFastPath } from "../../../services/raft/StorageFastPath.js"
import { fastPathOf } from "../../../services/raft/TransportFastPath.js"
import type { FrameSource, RaftTransportFastPath } from "../../../services/raft/TransportFastPath.js"
import { WakeTimer } from "./WakeTimer.js"
import { toWriteBatch } from "./WriteBatch.js"

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

export class Engine {
  readonly mailbox = new Mailbox<Input>()
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
  /** An empty, consumed Ready the core may reuse at the next turn. */
  private spare: Ready | undefined = undefined
  /** Frames drained straight from the transport (see `attachFrames`); else they come as `Frame` inputs. */
  private frames: FrameSource | undefined = undefined

  constructor(
    readonly core: RaftCore,
    readonly transport: RaftTransportShape,
    readonly storage: RaftStorageShape,
    surfaces: Surfaces
  ) {
    this.stats = new EngineMetrics(core.id)
    this.calls = new Calls(this.mailbox, this.stats)
    this.fast = fastPathOf(transport)
    this.storageFast = storageFastPathOf(storage)
    this.outbox = new Outbox(transport, this.fast)
    this.publisher = new Publisher(core, surfaces)
  }

  /**
   * Takes the transport's frames straight from its fast path, drained at the start of each turn
   * (before the mailbox's inputs), instead of through a pump fiber. False when the transport has
   * no fast path or its frames were already collected: then feed `Frame` inputs as before.
   */
  attachFrames(): boolean {
    const source = this.fast?.collect(() => this.mailbox.wake())
    if (source === undefined) return false
    this.frames = source
    return true
  }

  // ------------------------------------------------------------ the owning fiber

  /**
   * Runs turns until the node closes or fails. An idle engine parks on its mailbox until an input
   * arrives or the core's next deadline (`WakeTimer`); a wake-up that finds nothing due parks again
   * without taking a turn.
   */
  readonly run: Effect.Effect<void> = Effect.gen(this, function*() {
    const clock = yield* Effect.clock
    const timer = new WakeTimer(this.mailbox, clock)
    this.publisher.state()
    let busySince = clock.unsafeCurrentTimeMillis()
    while (!this.calls.closed) {
      this.mailbox.clearWake()
      let now = clock.unsafeCurrentTimeMillis()
      if (!this.hasInput() && this.core.nextDeadline() > now) {
        yield* timer.park(this.core.nextDeadline())
        now = clock.unsafeCurrentTimeMillis()
        busySince = now
        if (!this.hasInput() && this.core.nextDeadline() > now) continue
      } else if (now - busySince >= MACROTASK_YIELD_MS) {
        yield* Effect.sleep(0)
        busySince = clock.unsafeCurrentTimeMillis()
      } else {
        yield* Effect.yieldNow()
      }
      const step = this.turn(clock.unsafeCurrentTimeMillis())
      const ok = typeof step === "boolean" ? step : yield* step
      if (!ok) return
    }
  })

  private hasInput(): boolean {
    return this.mailbox.size > 0 || (this.frames !== undefined && this.frames.pending() > 0)
  }

  /**
   * One turn: inputs in, then every `Ready` the core produces, each written (one storage batch)
   * before anything it depends on is sent, published or resolved. Done synchronously as long as
   * nothing needs an Effect — the storage's and transport's fast paths, streams without
   * subscribers — which is the common case in process; the first step that does need one returns
   * the Effect that finishes the turn. `false`: the node failed and must stop.
   */
  private turn(now: number): Step {
    const core = this.core
    core.maxPayload = Option.getOrUndefined(this.transport.maxPayloadBytes)
    core.tick(now)
    if (this.frames !== undefined && this.frames.pending() > 0) this.frames.drain(this.onFrame)
    this.mailbox.drain(this.onInput)
    const spare = this.spare
    this.spare = undefined
    return this.process(core.takeReady(spare))
  }

  /** Works through `ready`, then through every `Ready` that follows it in this turn. */
  private process(ready: Ready): Step {
    const core = this.core
    if (ready.isEmpty) {
      this.spare = ready
      this.publisher.state()
      return true
    }
    if (core.collisions.fatal !== undefined) {
      // Thesis §6.3: a second live writer under our durable client id; fail-stop.
      return this.stop(new ClientIdCollision({ clientId: core.collisions.fatal }))
    }
    if (ready.hasPersist) {
      const batch = toWriteBatch(ready.persist)
      const write = this.storageFast !== undefined ? this.storageFast.tryWrite(batch) : this.storage.write(batch)
      if (write !== undefined) {
        return Effect.flatMap(
          Effect.either(write),
          (written) => written._tag === "Left" ? this.stop(written.left) : later(this.persisted(ready))
        )
      }
    }
    return this.persisted(ready)
  }

  /** `ready`'s write is durable: tell the core, then send, publish and resolve (`deliver`). */
  private persisted(ready: Ready): Step {
    this.core.onPersisted()
    this.outbox.reset()
    return this.deliver(ready, 0)
  }

  /** Sends `ready`'s messages from the `from`-th on, then publishes its committed items. */
  private deliver(ready: Ready, from: number): Step {
    const messages = ready.messages
    for (let i = from; i < messages.length; i++) {
      this.stats.frame("out", messages[i]!.message._tag)
      const send = this.outbox.send(messages[i]!)
      if (send !== undefined) return Effect.flatMap(send, () => later(this.deliver(ready, i + 1)))
    }
    this.publisher.committed()
    return this.resolve(ready)
  }

  /** Completes the callers `ready` resolved, publishes its trace and metrics, and moves on. */
  private resolve(ready: Ready): Step {
    const core = this.core
    this.calls.resolve(ready, core.now, this.publisher.feed.through, core.metering, core.cfg.slowProposeThreshold)
    const slow = this.calls.slow
    if (slow.length > 0) {
      const threshold = core.cfg.slowProposeThreshold
      const warn = Effect.forEach(
        slow.splice(0),
        ({ elapsedMs, index }) =>
          Effect.logWarning(`slow proposal: index ${index} committed ${elapsedMs} ms after it was proposed (slowProposeThreshold ${threshold} ms)`).pipe(
            Effect.annotateLogs({ node: core.id, index, elapsedMs })
          ),
        { discard: true }
      )
      return Effect.flatMap(warn, () => later(this.publishTrace(ready)))
    }
    return this.publishTrace(ready)
  }

  private publishTrace(ready: Ready): Step {
    const tracing = this.publisher.trace(ready.trace)
    if (tracing !== undefined) return Effect.flatMap(tracing, () => later(this.publishMetrics(ready)))
    return this.publishMetrics(ready)
  }

  private publishMetrics(ready: Ready): Step {
    const wedge = wedgeOf(ready.metrics)
    if (wedge !== undefined) {
      const warn = Effect.logWarning(
        `suspected wedge (${wedge.reason}): leader ${wedge.leader ?? "unknown"} at term ${wedge.leaderTerm}, ` +
          `our term ${wedge.term}, commit ${wedge.commitIndex}, applied ${wedge.appliedIndex}`
      ).pipe(Effect.annotateLogs({ node: this.core.id, reason: wedge.reason }))
      return Effect.flatMap(warn, () => later(this.publishMetricEvents(ready)))
    }
    return this.publishMetricEvents(ready)
  }

  private publishMetricEvents(ready: Ready): Step {
    const publishing = this.publisher.metrics(ready.metrics)
    if (publishing !== undefined) return Effect.flatMap(publishing, () => later(this.next(ready)))
    return this.next(ready)
  }

  /** `ready` is done: record its metrics, then take the next one (reusing `ready`). */
  private next(ready: Ready): Step {
    const metrics = ready.metrics
    if (metrics.length > 0) this.stats.record(metrics)
    return this.process(this.core.takeReady(ready))
  }

  /** Fail-stop, as a turn's last step. */
  private stop(error: RaftNodeFailure): Effect.Effect<boolean> {
    return Effect.as(this.fail(error), false)
  }

  private readonly onFrame = (from: NodeId, bytes: Uint8Array): void => this.receiveFrame(from, bytes, this.core.now)
  private readonly onInput = (input: Input): void => this.handle(input, this.core.now)

  private receiveFrame(from: NodeId, bytes: Uint8Array, now: number): void {
    const core = this.core
    const decoded = decodeRaftMessage(bytes)
    if (decoded._tag === "Left") {
      core.trace(RaftTraceEvent.FrameUndecodable({
        at: now,
        node: core.id,
        from,
        byteCount: bytes.byteLength,
        reason: decoded.left.reason
      }))
      this.stats.undecodable()
      return
    }
    this.stats.frame("in", decoded.right._tag)
    core.receive(from, decoded.right, now)
  }

  /** Hands one input to the core, recording the caller that now waits for its outcome. */
  private handle(input: Input, now: number): void {
    const core = this.core
    switch (input._tag) {
      case "Frame":
        return this.receiveFrame(input.from, input.bytes, now)
      case "Propose": {
        const over = core.propose(input.handle, input.command, input.requestId, now)
        if (over !== undefined) answer(input, Effect.fail(new PayloadTooLarge(over)))
        else this.calls.proposed(input, now)
        return
      }
      case "Cancel":
        this.calls.cancelled(input.handle)
        core.cancel(input.handle)
        return
      case "Read":
        this.calls.requested(input.handle, input.waiter)
        if (input.mode === "Leader") core.readIndex(input.handle, now)
        else core.readFence(input.handle, now)
        return
      case "Transfer":
        this.calls.requested(input.handle, input.waiter)
        core.transferLeadership(input.handle, input.target, now)
        return
      case "CancelTransfer":
        core.cancelTransfer(now)
        return
      case "ChangeMembership":
        this.calls.changeRequested(input.handle, input.resume)
        core.changeMembership(input.handle, input.target, now)
        return
      case "PublishSnapshot":
        core.compact(input.throughIndex, input.state, now)
        return
      case "Peers":
        core.peersChanged(input.peers, now)
        return
    }
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
    return Effect.suspend(() => (this.calls.close(reason) ? this.publisher.close() : Effect.void))
  }
}
