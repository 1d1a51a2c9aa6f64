/**
 * The Effect shell around `RaftCore` (DESIGN.md §2): one fiber owns the core. Each turn it
 * drains the transport's frames and the mailbox (proposals, cancellations, cuts...), fires due
 * timers, takes the core's `Ready`, performs ONE storage write (group commit), acknowledges it to
 * the core, and only then sends, publishes and resolves callers.
 *
 * Performance rules (effect-stack §8, DESIGN.md §2) and how they are met here:
 * - callers wait through `Effect.async` callbacks kept in plain structures, watched through their
 *   fibers rather than through a canceler per call (`Callers`);
 * - an idle engine parks on its mailbox; one timer fiber serves the next deadline (`armTimer`);
 * - a turn runs without Effects when it can: storages and transports may carry synchronous fast
 *   paths (`StorageFastPath`, `TransportFastPath`), observable state lives in `Cell`s set in
 *   place, and streams without subscribers are neither built nor published (`listen`);
 * - the same AppendEntries for several followers is encoded once.
 */
import { Effect, Option, PubSub } from "effect"
import type { Clock, Fiber, Queue, Scope } from "effect"
import { decodeRaftMessage, encodeRaftMessage } from "../../codec/raft/RaftCodec.js"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { CommandEntry, Committed, Snapshot } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { ClientIdCollision, LeadershipLost, NotLeader, PayloadTooLarge } from "../../../services/raft/RaftErrors.js"
import type { RaftNodeFailure } from "../../../services/raft/RaftNode.js"
import type { RaftRole } from "../../../services/raft/RaftRole.js"
import type { RaftStorage, WriteBatch } from "../../../services/raft/RaftStorage.js"
import { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RaftMetric } from "../../../services/raft/RaftTrace.js"
import type { RaftTransport } from "../../../services/raft/RaftTransport.js"
import type { RaftCore } from "../core/RaftCore.js"
import type { Outbound, Outcome, PersistBatch, Ready } from "../core/Ready.js"
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { Cell } from "./Cell.js"
import { Callers } from "./Callers.js"
import type { Watch } from "./Callers.js"
import { Mailbox } from "./Mailbox.js"
import { EngineMetrics } from "./RaftMetrics.js"
import { changeResult, committedItems } from "./MembershipRequests.js"
import type { ChangeResult } from "./MembershipRequests.js"
import { readWaiter, transferWaiter } from "./Requests.js"
import { storageFastPathOf } from "./StorageFastPath.js"
import type { RaftStorageFastPath } from "./StorageFastPath.js"
import { fastPathOf } from "./TransportFastPath.js"
import type { FrameSource, RaftTransportFastPath } from "./TransportFastPath.js"
import type { ReadResult, TransferResult, Waiter } from "./Requests.js"

type ProposeResult = Effect.Effect<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge>

/** A turn's outcome (`false`: the node failed), or the Effect that finishes the turn. */
type Step = boolean | Effect.Effect<boolean>

/** The rest of a turn after an Effect: as an Effect. */
const later = (step: Step): Effect.Effect<boolean> => (typeof step === "boolean" ? Effect.succeed(step) : step)

/** A proposal on its way to the core; it then waits in `Engine.waiting` until resolved. */
export interface ProposeInput {
  readonly _tag: "Propose"
  readonly handle: number
  readonly command: Uint8Array
  readonly requestId: number | undefined
  /** Resumes the caller; answer through `answer`, which also releases `watch`. */
  readonly resume: (result: ProposeResult) => void
  /** The caller's fiber watch (`Callers`), or undefined when a canceler is used instead. */
  readonly watch: Watch | undefined
  /** Clock time the core accepted it (for the commit-latency metric). */
  startedAt: number
}

/** Answers a proposal's caller. */
const answer = (p: ProposeInput, result: ProposeResult): void => {
  p.watch?.release(p.handle)
  p.resume(result)
}

export type Input =
  | { readonly _tag: "Frame"; readonly from: NodeId; readonly bytes: Uint8Array }
  | ProposeInput
  | { readonly _tag: "Cancel"; readonly handle: number }
  | { readonly _tag: "Cut"; readonly fromIndex: number; readonly resume: (cut: Cut) => void }
  | { readonly _tag: "Read"; readonly handle: number; readonly mode: "Leader" | "Fence"; readonly waiter: Waiter }
  | { readonly _tag: "Transfer"; readonly handle: number; readonly target: NodeId; readonly waiter: Waiter }
  | { readonly _tag: "CancelTransfer" }
  | {
    readonly _tag: "ChangeMembership"
    readonly handle: number
    readonly target: ClusterConfig
    readonly resume: (result: ChangeResult) => void
  }
  | { readonly _tag: "PublishSnapshot"; readonly throughIndex: number; readonly state: Uint8Array }

/** A consistent replay point for `committedFrom`: items through `upTo`, then the live tail. */
export interface Cut {
  readonly items: ReadonlyArray<Committed>
  readonly upTo: number
}

/** The observable surfaces the engine publishes after every turn. */
export interface Surfaces {
  readonly role: Cell<RaftRole>
  readonly leader: Cell<Option.Option<NodeId>>
  readonly term: Cell<number>
  readonly membership: Cell<ClusterConfig>
  readonly commitIndex: Cell<number>
  readonly compactionFloor: Cell<number>
  readonly committed: PubSub.PubSub<Committed>
  readonly trace: PubSub.PubSub<RaftTraceEvent>
  readonly metrics: PubSub.PubSub<RaftMetric>
}

/**
 * Longest stretch (Clock ms) of back-to-back turns before the engine yields a macrotask
 * (`Effect.sleep(0)`), so sockets and timers are never starved. Measured in time, not turns: a
 * real-clock `sleep(0)` is a ~1 ms `setTimeout`, which every 64 short turns cost a busy leader
 * a third of its throughput; under `TestClock` time stands still while the engine is busy, so
 * this never fires there (and `sleep(0)` would not wait anyway).
 */
const MACROTASK_YIELD_MS = 10

export class Engine {
  readonly mailbox = new Mailbox<Input>()
  private readonly waiting = new Map<number, ProposeInput>()
  /** Reads and transfers in the core, by handle (proposals are in `waiting`). */
  private readonly requests = new Map<number, Waiter>()
  /** `changeMembership` callers, by handle. */
  private readonly changes = new Map<number, (result: ChangeResult) => void>()
  private nextHandle = 1
  closed = false
  private failure: RaftNodeFailure | undefined = undefined
  private readonly failureWaiters: Array<(f: RaftNodeFailure) => void> = []
  private readonly leadershipWaiters: Array<() => void> = []
  private readonly stats: EngineMetrics
  private last = { role: "" as string, leader: undefined as NodeId | undefined, term: -1, commit: -1, config: undefined as unknown, floor: -1 }
  /** The engine's clock (the `TestClock` in tests), captured when `run` starts. */
  private clock: Clock.Clock | undefined = undefined
  /** The armed timer fiber, its due time (`Infinity`: none) and a generation that retires stale ones. */
  private timer: Fiber.RuntimeFiber<void> | undefined = undefined
  private timerAt = Infinity
  private timerGen = 0
  /** The transport's synchronous send, when it has one. */
  private readonly fast: RaftTransportFastPath | undefined
  /** The storage's synchronous write, when it has one. */
  private readonly storageFast: RaftStorageFastPath | undefined
  /** The last message sent in this `Ready` and its bytes (an identical AppendEntries reuses them). */
  private lastSent: Outbound | undefined = undefined
  private lastBytes: Uint8Array | undefined = undefined
  /** An empty, consumed Ready the core may reuse at the next turn. */
  private spare: Ready | undefined = undefined
  /** Frames drained straight from the transport (see `attachFrames`); else they come as `Frame` inputs. */
  private frames: FrameSource | undefined = undefined
  /** Live subscriptions of each stream (`listen`): nothing is built or published for none. */
  private readonly listeners = { committed: 0, trace: 0, metrics: 0 }

  constructor(
    readonly core: RaftCore,
    readonly transport: RaftTransport,
    readonly storage: RaftStorage,
    readonly surfaces: Surfaces
  ) {
    this.stats = new EngineMetrics(core.id)
    this.fast = fastPathOf(transport)
    this.storageFast = storageFastPathOf(storage)
    core.tracing = false
    core.metering = false
  }

  /**
   * Subscribes to one of the engine's streams, counting the subscription while it lasts. With no
   * subscriber a PubSub drops what is published, so the engine skips building and publishing
   * those items (and the core its per-entry trace events) instead. The count goes up before the
   * subscription exists and down after it is gone, so a subscriber never misses what it would
   * have seen.
   */
  listen<K extends keyof Engine["listeners"]>(
    which: K
  ): Effect.Effect<Queue.Dequeue<Surfaces[K] extends PubSub.PubSub<infer A> ? A : never>, never, Scope.Scope> {
    const count = (delta: number) =>
      Effect.sync(() => {
        this.listeners[which] += delta
        this.core.tracing = this.listeners.trace > 0
        this.core.metering = this.listeners.metrics > 0
      })
    return Effect.zipRight(
      Effect.acquireRelease(count(1), () => count(-1)),
      PubSub.subscribe(this.surfaces[which] as PubSub.PubSub<any>)
    )
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

  // ------------------------------------------------------------ API side (any fiber)

  /**
   * Proposes `command`. The caller waits in `Effect.async` with no canceler: its fiber is watched
   * instead (`Callers`), and a caller that gives up gets the same `Cancel` a canceler would send.
   */
  propose(command: Uint8Array, requestId: number | undefined): ProposeResult {
    return Effect.async<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge>((resume) => {
      if (this.closed) {
        resume(Effect.fail(new NotLeader({ leader: undefined, reason: "node is closed" })))
        return
      }
      const handle = this.nextHandle++
      const watch = this.callers.watch(handle)
      this.mailbox.push({ _tag: "Propose", handle, command, requestId, resume, watch, startedAt: 0 })
      if (watch === undefined) return Effect.sync(() => this.gaveUp(handle))
    })
  }

  /** The caller of `handle` gave up: forget it, and tell the core (`Cancel`). */
  private readonly gaveUp = (handle: number): void => {
    this.waiting.delete(handle)
    this.requests.delete(handle)
    if (!this.closed) this.mailbox.push({ _tag: "Cancel", handle })
  }

  private readonly callers = new Callers(this.gaveUp)

  /** `readIndex` (`Leader`: leader only) or `readFence` (`Fence`: any role). */
  read(mode: "Leader" | "Fence"): ReadResult {
    return this.request(readWaiter, (handle, waiter) => ({ _tag: "Read", handle, mode, waiter }))
  }

  transferLeadership(target: NodeId): TransferResult {
    return this.request(
      (resume: (r: TransferResult) => void) => transferWaiter(target, resume),
      (handle, waiter) => ({ _tag: "Transfer", handle, target, waiter })
    )
  }

  readonly cancelTransfer: Effect.Effect<void> = Effect.sync(() => {
    if (!this.closed) this.mailbox.push({ _tag: "CancelTransfer" })
  })

  /** Sends a request to the core; interrupting the caller cancels it there (`Cancel`, see `propose`). */
  private request<A, E>(
    makeWaiter: (resume: (r: Effect.Effect<A, E>) => void) => Waiter,
    toInput: (handle: number, waiter: Waiter) => Input
  ): Effect.Effect<A, E> {
    return Effect.async<A, E>((resume) => {
      if (this.closed) return makeWaiter(resume).rejectClosed()
      const handle = this.nextHandle++
      const watch = this.callers.watch(handle)
      const answered = watch === undefined ? resume : (r: Effect.Effect<A, E>) => {
        watch.release(handle)
        resume(r)
      }
      this.mailbox.push(toInput(handle, makeWaiter(answered)))
      if (watch === undefined) return Effect.sync(() => this.gaveUp(handle))
    })
  }

  /** Starts a membership change (§6); see `RaftNode.changeMembership`. Interrupting stops the wait, not the change. */
  changeMembership(target: ClusterConfig): ChangeResult {
    return Effect.async((resume) => {
      if (this.closed) return resume(Effect.fail(new NotLeader({ leader: undefined, reason: "node is closed" })))
      const handle = this.nextHandle++
      this.mailbox.push({ _tag: "ChangeMembership", handle, target, resume })
      return Effect.sync(() => void this.changes.delete(handle))
    })
  }

  /** Hands the core a consumer snapshot (copied: the caller may reuse its buffer); see `RaftNode.publishSnapshot`. */
  publishSnapshot(snapshot: Snapshot): Effect.Effect<void> {
    return Effect.sync(() => {
      if (!this.closed) {
        this.mailbox.push({ _tag: "PublishSnapshot", throughIndex: snapshot.throughIndex, state: snapshot.state.slice() })
      }
    })
  }

  cut(fromIndex: number): Effect.Effect<Cut> {
    return Effect.async<Cut>((resume) => {
      if (this.closed) return resume(Effect.succeed({ items: [], upTo: Infinity }))
      this.mailbox.push({ _tag: "Cut", fromIndex, resume: (c) => resume(Effect.succeed(c)) })
    })
  }

  readonly awaitFailure: Effect.Effect<RaftNodeFailure> = Effect.async<RaftNodeFailure>((resume) => {
    if (this.failure !== undefined) return resume(Effect.succeed(this.failure))
    const w = (f: RaftNodeFailure) => resume(Effect.succeed(f))
    this.failureWaiters.push(w)
    return Effect.sync(() => {
      const i = this.failureWaiters.indexOf(w)
      if (i >= 0) this.failureWaiters.splice(i, 1)
    })
  })

  readonly awaitLeadership: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.core.role === "Leader") return resume(Effect.void)
    const w = () => resume(Effect.void)
    this.leadershipWaiters.push(w)
    return Effect.sync(() => {
      const i = this.leadershipWaiters.indexOf(w)
      if (i >= 0) this.leadershipWaiters.splice(i, 1)
    })
  })

  // ------------------------------------------------------------ the owning fiber

  /**
   * Runs turns until the node closes or fails. An idle engine parks on its mailbox; the next
   * deadline is served by one timer fiber (`armTimer`), re-armed only when the deadline moves
   * earlier than the armed one — not a fiber race and a fresh timer per wait. A timer that fires
   * early (its deadline has since moved later) wakes the loop, which finds nothing due and parks
   * again without taking a turn.
   */
  readonly run: Effect.Effect<void> = Effect.gen(this, function*() {
    const clock = yield* Effect.clock
    this.clock = clock
    this.publish()
    let busySince = clock.unsafeCurrentTimeMillis()
    while (!this.closed) {
      this.mailbox.clearWake()
      let now = clock.unsafeCurrentTimeMillis()
      if (!this.hasInput() && this.core.nextDeadline() > now) {
        yield* this.park(this.core.nextDeadline())
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

  /** Waits for an input or for `deadline` (an absolute Clock time; `Infinity`: no timer). */
  private park(deadline: number): Effect.Effect<void> {
    if (deadline >= this.timerAt || deadline === Infinity) return this.mailbox.awaitItem
    return Effect.zipRight(this.armTimer(deadline), this.mailbox.awaitItem)
  }

  /**
   * Forks the fiber that wakes the engine at `at`, retiring the previous one. The sleep comes from
   * the Clock in context (`TestClock` in tests) and its length is read when the fiber starts, so a
   * clock adjusted in between cannot push the wake-up past `at`.
   */
  private armTimer(at: number): Effect.Effect<void> {
    const gen = ++this.timerGen
    this.timerAt = at
    const clock = this.clock!
    const fire = Effect.suspend(() => {
      const left = at - clock.unsafeCurrentTimeMillis()
      return left > 0 ? Effect.sleep(left) : Effect.void
    }).pipe(
      Effect.zipRight(Effect.sync(() => {
        if (this.timerGen !== gen) return
        this.timer = undefined
        this.timerAt = Infinity
        this.mailbox.wake()
      }))
    )
    return Effect.map(Effect.fork(fire), (fiber) => {
      const old = this.timer
      this.timer = fiber
      if (old !== undefined) old.unsafeInterruptAsFork(fiber.id())
    })
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
      this.publish()
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
    this.lastSent = undefined
    return this.deliver(ready, 0)
  }

  /** Sends `ready`'s messages from the `from`-th on, then publishes it. */
  private deliver(ready: Ready, from: number): Step {
    const messages = ready.messages
    for (let i = from; i < messages.length; i++) {
      const out = messages[i]!
      // The same AppendEntries content (same batch, same header) for several followers is
      // encoded once; frames are immutable once sent, so they can share the bytes.
      const last = this.lastSent
      const bytes = last !== undefined && sameAppend(last.message, out.message) ? this.lastBytes! : encodeRaftMessage(out.message)
      this.lastSent = out
      this.lastBytes = bytes
      const send = this.fast !== undefined ? this.fast.trySend(out.to, bytes) : this.transport.sendTo(out.to, bytes)
      if (send !== undefined) return Effect.flatMap(send, () => later(this.deliver(ready, i + 1)))
    }
    if ((ready.committed.length > 0 || ready.install !== undefined) && this.listeners.committed > 0) {
      return Effect.flatMap(PubSub.publishAll(this.surfaces.committed, committedItems(ready)), () => later(this.resolve(ready)))
    }
    return this.resolve(ready)
  }

  /** Completes the callers `ready` resolved, publishes its trace and metrics, and moves on. */
  private resolve(ready: Ready): Step {
    const now = this.core.now
    for (const r of ready.resolutions) {
      const proposal = this.waiting.get(r.handle)
      if (proposal === undefined) {
        const waiter = this.requests.get(r.handle)
        if (waiter === undefined) continue
        this.requests.delete(r.handle)
        waiter.complete(r.outcome)
        continue
      }
      this.waiting.delete(r.handle)
      this.stats.resolved(proposal.startedAt, r.outcome._tag === "Proposed", now)
      answer(proposal, toResult(r.outcome))
    }
    for (const r of ready.membership) {
      const resume = this.changes.get(r.handle)
      if (resume === undefined) continue
      this.changes.delete(r.handle)
      resume(changeResult(r.outcome))
    }
    const metrics = ready.metrics
    const rest = (): Step => {
      if (metrics.length > 0) this.stats.record(metrics)
      return this.process(this.core.takeReady(ready))
    }
    const publishMetrics = (): Step =>
      metrics.length > 0 && this.listeners.metrics > 0
        ? Effect.flatMap(PubSub.publishAll(this.surfaces.metrics, metrics), () => later(rest()))
        : rest()
    if (ready.trace.length > 0 && this.listeners.trace > 0) {
      return Effect.flatMap(PubSub.publishAll(this.surfaces.trace, ready.trace), () => later(publishMetrics()))
    }
    return publishMetrics()
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
    core.receive(from, decoded.right, now)
  }

  private handle(input: Input, now: number): void {
    const core = this.core
    switch (input._tag) {
      case "Frame":
        return this.receiveFrame(input.from, input.bytes, now)
      case "Propose": {
        const over = core.propose(input.handle, input.command, input.requestId, now)
        if (over !== undefined) {
          answer(input, Effect.fail(new PayloadTooLarge(over)))
        } else {
          input.startedAt = now
          this.waiting.set(input.handle, input)
          this.stats.proposed()
        }
        return
      }
      case "Cancel":
        this.waiting.delete(input.handle)
        this.requests.delete(input.handle)
        core.cancel(input.handle)
        return
      case "Read":
        this.requests.set(input.handle, input.waiter)
        if (input.mode === "Leader") core.readIndex(input.handle, now)
        else core.readFence(input.handle, now)
        return
      case "Transfer":
        this.requests.set(input.handle, input.waiter)
        core.transferLeadership(input.handle, input.target, now)
        return
      case "CancelTransfer":
        core.cancelTransfer(now)
        return
      case "ChangeMembership":
        this.changes.set(input.handle, input.resume)
        core.changeMembership(input.handle, input.target, now)
        return
      case "PublishSnapshot":
        core.compact(input.throughIndex, input.state, now)
        return
      case "Cut": {
        // Everything emitted so far has been published (publication ends each turn), so the live
        // subscription the caller holds sees exactly what comes after `lastEmitted`.
        // At or below the compaction floor it starts with `Install(latest snapshot)`.
        input.resume(core.committedFrom(input.fromIndex))
        return
      }
    }
  }

  /** Pushes changed state into the surfaces (only on change: subscribers see transitions). */
  private publish(): void {
    const c = this.core
    const s = this.surfaces
    const l = this.last
    if (c.role !== l.role) {
      l.role = c.role
      s.role.set(c.role)
      if (c.role === "Leader") for (const w of this.leadershipWaiters.splice(0)) w()
    }
    if (c.leader !== l.leader) {
      l.leader = c.leader
      s.leader.set(Option.fromNullable(c.leader))
    }
    if (c.term !== l.term) {
      l.term = c.term
      s.term.set(c.term)
    }
    if (c.commitIndex !== l.commit) {
      l.commit = c.commitIndex
      s.commitIndex.set(c.commitIndex)
    }
    if (c.config !== l.config) {
      // By identity: a rollback can land on another config at the same index.
      l.config = c.config
      s.membership.set(c.config.new)
    }
    if (c.log.snapshotIndex !== l.floor) {
      l.floor = c.log.snapshotIndex
      s.compactionFloor.set(c.log.snapshotIndex)
    }
  }

  /** Fail-stop: a node that cannot persist, or whose durable client id is shared, must not go on. */
  private fail(error: RaftNodeFailure): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      this.failure = error
      for (const w of this.failureWaiters.splice(0)) w(error)
      yield* this.shutdown(`node stopped: ${error.message}`)
    })
  }

  /** Closes the node: every waiting caller gets a typed failure and the streams end. */
  shutdown(reason: string): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      if (this.closed) return
      this.closed = true
      for (const [, proposal] of this.waiting) answer(proposal, Effect.fail(new LeadershipLost({ reason })))
      this.waiting.clear()
      for (const [, waiter] of this.requests) waiter.close(reason)
      this.requests.clear()
      for (const [, resume] of this.changes) resume(Effect.fail(new LeadershipLost({ reason })))
      this.changes.clear()
      for (const input of this.mailbox.takeAll()) {
        if (input._tag === "Propose") answer(input, Effect.fail(new NotLeader({ leader: undefined, reason: "node is closed" })))
        if (input._tag === "Cut") input.resume({ items: [], upTo: Infinity })
        if (input._tag === "Read" || input._tag === "Transfer") input.waiter.rejectClosed()
        if (input._tag === "ChangeMembership") input.resume(Effect.fail(new NotLeader({ leader: undefined, reason: "node is closed" })))
      }
      // A stopped node leads nothing and follows no one; say so rather than freeze the last state.
      if (this.core.role === "Leader" || this.core.role === "Candidate") this.surfaces.role.set("Follower")
      this.surfaces.leader.set(Option.none())
      yield* PubSub.shutdown(this.surfaces.committed)
      yield* PubSub.shutdown(this.surfaces.trace)
      yield* PubSub.shutdown(this.surfaces.metrics)
    })
  }
}

const toResult = (o: Outcome): ProposeResult => {
  switch (o._tag) {
    case "Proposed":
      return Effect.succeed(o.entry)
    case "NotLeader":
      return Effect.fail(new NotLeader({ leader: o.leader, reason: o.reason }))
    case "LeadershipLost":
      return Effect.fail(new LeadershipLost({ reason: o.reason }))
    case "Read":
    case "Transferred":
    case "TransferFailed":
    case "MembershipChangeInProgress":
      return Effect.dieMessage(`a proposal resolved with unexpected outcome ${o._tag}`)
  }
}

/** Drops the fields a turn did not set (the storage contract uses optional properties). */
export const toWriteBatch = (p: PersistBatch): WriteBatch => {
  const b: { -readonly [K in keyof WriteBatch]: WriteBatch[K] } = {}
  if (p.snapshot !== undefined) b.snapshot = p.snapshot
  if (p.truncateFrom !== undefined) b.truncateFrom = p.truncateFrom
  if (p.append.length > 0) b.append = p.append
  if (p.hardState !== undefined) b.hardState = p.hardState
  if (p.leaderForTerm !== undefined) b.leaderForTerm = p.leaderForTerm
  if (p.discardThrough !== undefined) b.discardThrough = p.discardThrough
  return b
}

/**
 * True when `b` is an AppendEntries that encodes to the same bytes as `a`: same header and the
 * very same entry objects (log entries are immutable, so identity implies equal bytes).
 */
const sameAppend = (a: RaftMessage, b: RaftMessage): boolean => {
  if (a._tag !== "AppendEntries" || b._tag !== "AppendEntries") return false
  if (
    a.term !== b.term || a.prevLogIndex !== b.prevLogIndex || a.prevLogTerm !== b.prevLogTerm ||
    a.leaderCommit !== b.leaderCommit || a.round !== b.round || a.entries.length !== b.entries.length
  ) return false
  for (let i = 0; i < a.entries.length; i++) if (a.entries[i] !== b.entries[i]) return false
  return true
}
