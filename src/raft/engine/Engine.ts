/**
 * The Effect shell around `RaftCore` (DESIGN.md §2): one fiber owns the core. Each turn it
 * drains the mailbox (frames, proposals, cancellations, cuts), fires due timers, takes the
 * core's `Ready`, performs ONE storage write (group commit), acknowledges it to the core, and
 * only then sends, publishes and resolves callers.
 *
 * Callers wait through `Effect.async` callbacks kept in a plain map, not through a `Deferred`
 * per call; committed entries are published per turn with one `publishAll`.
 */
import { Clock, Effect, Option, PubSub, SubscriptionRef } from "effect"
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
import type { Outcome, PersistBatch, Ready } from "../core/Ready.js"
import { Mailbox } from "./Mailbox.js"
import { EngineMetrics } from "./RaftMetrics.js"
import { changeResult, committedItems } from "./MembershipRequests.js"
import type { ChangeResult } from "./MembershipRequests.js"
import { readWaiter, transferWaiter } from "./Requests.js"
import type { ReadResult, TransferResult, Waiter } from "./Requests.js"

type ProposeResult = Effect.Effect<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge>

export type Input =
  | { readonly _tag: "Frame"; readonly from: NodeId; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Propose"
    readonly handle: number
    readonly command: Uint8Array
    readonly requestId: number | undefined
    readonly resume: (result: ProposeResult) => void
  }
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
  readonly role: SubscriptionRef.SubscriptionRef<RaftRole>
  readonly leader: SubscriptionRef.SubscriptionRef<Option.Option<NodeId>>
  readonly term: SubscriptionRef.SubscriptionRef<number>
  readonly membership: SubscriptionRef.SubscriptionRef<ClusterConfig>
  readonly commitIndex: SubscriptionRef.SubscriptionRef<number>
  readonly compactionFloor: SubscriptionRef.SubscriptionRef<number>
  readonly committed: PubSub.PubSub<Committed>
  readonly trace: PubSub.PubSub<RaftTraceEvent>
  readonly metrics: PubSub.PubSub<RaftMetric>
}

/** Busy turns between macrotask yields, so sockets and timers are never starved. */
const TURNS_PER_MACROTASK_YIELD = 64

export class Engine {
  readonly mailbox = new Mailbox<Input>()
  private readonly waiting = new Map<number, (result: ProposeResult) => void>()
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

  constructor(
    readonly core: RaftCore,
    readonly transport: RaftTransport,
    readonly storage: RaftStorage,
    readonly surfaces: Surfaces
  ) {
    this.stats = new EngineMetrics(core.id)
  }

  // ------------------------------------------------------------ API side (any fiber)

  propose(command: Uint8Array, requestId: number | undefined): ProposeResult {
    return Effect.async<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge>((resume) => {
      if (this.closed) {
        resume(Effect.fail(new NotLeader({ leader: undefined, reason: "node is closed" })))
        return
      }
      const handle = this.nextHandle++
      this.mailbox.push({ _tag: "Propose", handle, command, requestId, resume })
      return Effect.sync(() => {
        this.waiting.delete(handle)
        if (!this.closed) this.mailbox.push({ _tag: "Cancel", handle })
      })
    })
  }

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

  /** Sends a request to the core; interrupting the caller cancels it there (`Cancel`). */
  private request<A, E>(
    makeWaiter: (resume: (r: Effect.Effect<A, E>) => void) => Waiter,
    toInput: (handle: number, waiter: Waiter) => Input
  ): Effect.Effect<A, E> {
    return Effect.async<A, E>((resume) => {
      const waiter = makeWaiter(resume)
      if (this.closed) return waiter.rejectClosed()
      const handle = this.nextHandle++
      this.mailbox.push(toInput(handle, waiter))
      return Effect.sync(() => {
        this.requests.delete(handle)
        if (!this.closed) this.mailbox.push({ _tag: "Cancel", handle })
      })
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

  /** Runs turns until the node closes or fails. */
  readonly run: Effect.Effect<void> = Effect.gen(this, function*() {
    yield* this.publish()
    let busyTurns = 0
    while (!this.closed) {
      const now = yield* Clock.currentTimeMillis
      const deadline = this.core.nextDeadline()
      if (this.mailbox.size === 0 && deadline > now) {
        busyTurns = 0
        const wait = this.mailbox.awaitItem
        yield* deadline === Infinity ? wait : Effect.raceFirst(wait, Effect.sleep(deadline - now))
      } else if (++busyTurns % TURNS_PER_MACROTASK_YIELD === 0) {
        yield* Effect.sleep(0)
      } else {
        yield* Effect.yieldNow()
      }
      const ok = yield* this.turn(yield* Clock.currentTimeMillis)
      if (!ok) return
    }
  })

  /** One turn; false when the node failed and must stop. */
  private turn(now: number): Effect.Effect<boolean> {
    return Effect.gen(this, function*() {
      const core = this.core
      core.maxPayload = Option.getOrUndefined(this.transport.maxPayloadBytes)
      core.tick(now)
      for (const input of this.mailbox.takeAll()) this.handle(input, now)
      let ready = core.takeReady()
      while (!ready.isEmpty) {
        if (core.collisions.fatal !== undefined) {
          // Thesis §6.3: a second live writer under our durable client id; fail-stop.
          yield* this.fail(new ClientIdCollision({ clientId: core.collisions.fatal }))
          return false
        }
        if (ready.hasPersist) {
          const written = yield* Effect.either(this.storage.write(toWriteBatch(ready.persist)))
          if (written._tag === "Left") {
            yield* this.fail(written.left)
            return false
          }
        }
        core.onPersisted()
        yield* this.deliver(ready)
        ready = core.takeReady()
      }
      yield* this.publish()
      return true
    })
  }

  private handle(input: Input, now: number): void {
    const core = this.core
    switch (input._tag) {
      case "Frame": {
        const decoded = decodeRaftMessage(input.bytes)
        if (decoded._tag === "Left") {
          core.trace(RaftTraceEvent.FrameUndecodable({
            at: now,
            node: core.id,
            from: input.from,
            byteCount: input.bytes.byteLength,
            reason: decoded.left.reason
          }))
          this.stats.undecodable()
          return
        }
        core.receive(input.from, decoded.right, now)
        return
      }
      case "Propose": {
        const over = core.propose(input.handle, input.command, input.requestId, now)
        if (over !== undefined) {
          input.resume(Effect.fail(new PayloadTooLarge(over)))
        } else {
          this.waiting.set(input.handle, input.resume)
          this.stats.proposed(input.handle, now)
        }
        return
      }
      case "Cancel":
        this.waiting.delete(input.handle)
        this.requests.delete(input.handle)
        this.stats.forget(input.handle)
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

  private deliver(ready: Ready): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      for (const { message, to } of ready.messages) {
        yield* this.transport.sendTo(to, encodeRaftMessage(message))
      }
      if (ready.committed.length > 0 || ready.install !== undefined) {
        yield* PubSub.publishAll(this.surfaces.committed, committedItems(ready))
      }
      const now = this.core.now
      for (const r of ready.resolutions) {
        const resume = this.waiting.get(r.handle)
        if (resume === undefined) {
          const waiter = this.requests.get(r.handle)
          if (waiter === undefined) continue
          this.requests.delete(r.handle)
          waiter.complete(r.outcome)
          continue
        }
        this.waiting.delete(r.handle)
        this.stats.resolved(r.handle, r.outcome._tag === "Proposed", now)
        resume(toResult(r.outcome))
      }
      for (const r of ready.membership) {
        const resume = this.changes.get(r.handle)
        if (resume === undefined) continue
        this.changes.delete(r.handle)
        resume(changeResult(r.outcome))
      }
      if (ready.trace.length > 0) yield* PubSub.publishAll(this.surfaces.trace, ready.trace)
      if (ready.metrics.length > 0) {
        yield* PubSub.publishAll(this.surfaces.metrics, ready.metrics)
        this.stats.record(ready.metrics)
      }
    })
  }

  /** Pushes changed state into the SubscriptionRefs (only on change: subscribers see transitions). */
  private publish(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      const c = this.core
      const s = this.surfaces
      const l = this.last
      if (c.role !== l.role) {
        l.role = c.role
        yield* SubscriptionRef.set(s.role, c.role)
        if (c.role === "Leader") for (const w of this.leadershipWaiters.splice(0)) w()
      }
      if (c.leader !== l.leader) {
        l.leader = c.leader
        yield* SubscriptionRef.set(s.leader, Option.fromNullable(c.leader))
      }
      if (c.term !== l.term) {
        l.term = c.term
        yield* SubscriptionRef.set(s.term, c.term)
      }
      if (c.commitIndex !== l.commit) {
        l.commit = c.commitIndex
        yield* SubscriptionRef.set(s.commitIndex, c.commitIndex)
      }
      if (c.config !== l.config) {
        // By identity: a rollback can land on another config at the same index.
        l.config = c.config
        yield* SubscriptionRef.set(s.membership, c.config.new)
      }
      if (c.log.snapshotIndex !== l.floor) {
        l.floor = c.log.snapshotIndex
        yield* SubscriptionRef.set(s.compactionFloor, c.log.snapshotIndex)
      }
    })
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
      for (const [, resume] of this.waiting) resume(Effect.fail(new LeadershipLost({ reason })))
      this.waiting.clear()
      for (const [, waiter] of this.requests) waiter.close(reason)
      this.requests.clear()
      for (const [, resume] of this.changes) resume(Effect.fail(new LeadershipLost({ reason })))
      this.changes.clear()
      for (const input of this.mailbox.takeAll()) {
        if (input._tag === "Propose") input.resume(Effect.fail(new NotLeader({ leader: undefined, reason: "node is closed" })))
        if (input._tag === "Cut") input.resume({ items: [], upTo: Infinity })
        if (input._tag === "Read" || input._tag === "Transfer") input.waiter.rejectClosed()
        if (input._tag === "ChangeMembership") input.resume(Effect.fail(new NotLeader({ leader: undefined, reason: "node is closed" })))
      }
      // A stopped node leads nothing and follows no one; say so rather than freeze the last state.
      if (this.core.role === "Leader" || this.core.role === "Candidate") yield* SubscriptionRef.set(this.surfaces.role, "Follower")
      yield* SubscriptionRef.set(this.surfaces.leader, Option.none())
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

