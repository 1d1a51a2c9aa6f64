/**
 * The engine's callers: how an API call becomes a mailbox input, and the bookkeeping of every
 * caller that waits — by handle — until the core resolves its request, the caller gives up, or the
 * node closes (then each gets a typed failure; none is left hanging).
 *
 * Callers wait in `Effect.async` callbacks kept in plain maps, not a `Deferred` each; a caller's
 * fiber is watched (`Callers`) instead of a canceler per call, and one that gives up gets the same
 * `Cancel` a canceler would send. Proposals, reads and transfers are cancelled in the core too; a
 * membership change is not (interrupting stops the wait, not the change).
 *
 * Admission: at most `maxPending` proposals are in flight (admitted, not yet answered). A proposal
 * beyond that waits in `queued`, in call order, until one is answered — or fails at once with
 * `Overloaded` when its caller asked so — so no client can flood the loop with more work than a
 * turn can take while still heartbeating.
 */
import { Effect } from "effect"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { CommandEntry, Snapshot } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { LeadershipLost, NotLeader, Overloaded } from "../../../services/raft/RaftErrors.js"
import { PayloadTooLarge } from "../../../services/raft/RaftErrors.js"
import type { ProposeFailFastOptions, ProposeOptions, RaftNodeFailure } from "../../../services/raft/RaftNode.js"
import type { Oversize } from "../core/Forwarding.js"
import type { Ready } from "../core/Ready.js"
import { Callers } from "./Callers.js"
import { answer, toResult } from "./Inputs.js"
import type { Input, ProposeInput, ProposeResult } from "./Inputs.js"
import type { Mailbox } from "./Mailbox.js"
import { changeResult } from "./MembershipRequests.js"
import type { ChangeResult } from "./MembershipRequests.js"
import type { EngineMetrics } from "./RaftMetrics.js"
import { readWaiter, transferWaiter } from "./Requests.js"
import type { ReadResult, TransferResult, Waiter } from "./Requests.js"

const closedNotLeader = () => new NotLeader({ leader: undefined, reason: "node is closed" })

export class Calls {
  /** Admitted proposals not yet answered (on their way to the core, or in it), by handle. */
  private readonly waiting = new Map<number, ProposeInput>()
  /** Proposals waiting for admission, oldest first. */
  private readonly queued: Array<ProposeInput> = []
  /** Reads and transfers in the core, by handle (proposals are in `waiting`). */
  private readonly requests = new Map<number, Waiter>()
  /** `changeMembership` callers, by handle. */
  private readonly changes = new Map<number, (result: ChangeResult) => void>()
  private nextHandle = 1
  /** The node closed: calls are answered at once, nothing new reaches the mailbox. */
  closed = false
  private failure: RaftNodeFailure | undefined = undefined
  private readonly failureWaiters: Array<(f: RaftNodeFailure) => void> = []
  /**
   * Committed proposals of this node not yet handed to its committed stream (a follower learns
   * the commit from its leader before it holds the entry), oldest first: for `ProposeApplied`.
   */
  private readonly unapplied: Array<{ readonly index: number; readonly startedAt: number }> = []
  /** Proposals of the last `resolve` slower than `slowProposeThreshold` (the engine logs them). */
  readonly slow: Array<{ readonly index: number; readonly elapsedMs: number }> = []

  constructor(
    private readonly mailbox: Mailbox<Input>,
    private readonly stats: EngineMetrics,
    /** `RaftConfig.maxPendingProposals`. */
    private readonly maxPending: number
  ) {}

  /** Proposals admitted and not yet answered. */
  get inFlight(): number {
    return this.waiting.size
  }

  // ------------------------------------------------------------ API side (any fiber)

  /**
   * Proposes `command`. The caller waits in `Effect.async` with no canceler: its fiber is watched
   * instead (`Callers`), and a caller that gives up gets the same `Cancel` a canceler would send.
   */
  propose(command: Uint8Array, options: ProposeOptions | ProposeFailFastOptions | undefined): ProposeResult {
    return Effect.async<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge | Overloaded>((resume) => {
      if (this.closed) {
        resume(Effect.fail(closedNotLeader()))
        return
      }
      const full = this.waiting.size >= this.maxPending
      if (full && options?.whenOverloaded === "fail") {
        resume(Effect.fail(new Overloaded({ limit: this.maxPending })))
        return
      }
      const handle = this.nextHandle++
      const watch = this.callers.watch(handle)
      const input: ProposeInput = {
        _tag: "Propose",
        handle,
        command,
        requestId: options?.requestId,
        resume,
        watch,
        startedAt: 0
      }
      if (full || this.queued.length > 0) this.queued.push(input)
      else this.admit(input)
      if (watch === undefined) return Effect.sync(() => this.gaveUp(handle))
    })
  }

  private admit(input: ProposeInput): void {
    this.waiting.set(input.handle, input)
    this.mailbox.push(input)
  }

  /** Admits queued proposals while there is room. */
  private admitQueued(): void {
    const q = this.queued
    if (q.length === 0 || this.closed) return
    let n = 0
    while (n < q.length && this.waiting.size < this.maxPending) this.admit(q[n++]!)
    if (n > 0) q.splice(0, n)
  }

  /** The caller of `handle` gave up: forget it, and tell the core (`Cancel`). */
  private readonly gaveUp = (handle: number): void => {
    this.requests.delete(handle)
    if (this.waiting.delete(handle)) {
      if (!this.closed) {
        this.mailbox.push({ _tag: "Cancel", handle })
        this.admitQueued()
      }
      return
    }
    const q = this.queued
    for (let i = 0; i < q.length; i++) {
      if (q[i]!.handle === handle) {
        q.splice(i, 1)
        return
      }
    }
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
      if (this.closed) return resume(Effect.fail(closedNotLeader()))
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


  /** Completes with the error the node failed with (fail-stop). */
  readonly awaitFailure: Effect.Effect<RaftNodeFailure> = Effect.async<RaftNodeFailure>((resume) => {
    if (this.failure !== undefined) return resume(Effect.succeed(this.failure))
    const w = (f: RaftNodeFailure) => resume(Effect.succeed(f))
    this.failureWaiters.push(w)
    return Effect.sync(() => {
      const i = this.failureWaiters.indexOf(w)
      if (i >= 0) this.failureWaiters.splice(i, 1)
    })
  })

  // ------------------------------------------------------------ engine side (the owning fiber)

  /** The core accepted proposal `p` at `now`: it waits for its outcome. */
  proposed(p: ProposeInput, now: number): void {
    p.startedAt = now
    this.stats.proposed()
  }

  /** The core refused proposal `p`: it can never fit a frame (nothing entered the log). */
  tooLarge(p: ProposeInput, over: Oversize): void {
    if (!this.waiting.delete(p.handle)) return
    answer(p, Effect.fail(new PayloadTooLarge(over)))
    this.admitQueued()
  }

  /** A read or transfer reached the core: it waits for its outcome. */
  requested(handle: number, waiter: Waiter): void {
    this.requests.set(handle, waiter)
  }

  /** A membership change reached the core: it waits for its outcome. */
  changeRequested(handle: number, resume: (result: ChangeResult) => void): void {
    this.changes.set(handle, resume)
  }

  /** The caller of `handle` gave up (its `Cancel` came through the input queue). */
  cancelled(handle: number): void {
    this.requests.delete(handle)
  }

  /**
   * Completes the callers `ready` resolved (proposals, reads, transfers, membership changes).
   * `applied`: the index this node has handed to its committed stream; `metering`: someone reads
   * the metric stream (then `ProposeCommitted`/`ProposeApplied` go into `ready.metrics`);
   * `slowMs`: proposals slower than this are noted in `slow`.
   */
  resolve(ready: Ready, now: number, applied: number, metering: boolean, slowMs: number): void {
    if (this.slow.length > 0) this.slow.length = 0
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
      const o = r.outcome
      if (o._tag === "Proposed") {
        const index = o.entry.index
        const elapsedMs = now - proposal.startedAt
        this.stats.resolved(proposal.startedAt, true, now)
        if (elapsedMs > slowMs) this.slow.push({ index, elapsedMs })
        if (metering) ready.metrics.push({ _tag: "ProposeCommitted", logIndex: index, elapsedMs })
        if (index <= applied) {
          this.stats.applied(elapsedMs)
          if (metering) ready.metrics.push({ _tag: "ProposeApplied", logIndex: index, elapsedMs })
        } else {
          this.unapplied.push({ index, startedAt: proposal.startedAt })
        }
      }
      answer(proposal, toResult(o))
    }
    if (this.unapplied.length > 0) this.flushApplied(ready, now, applied, metering)
    if (this.queued.length > 0) this.admitQueued()
    for (const r of ready.membership) {
      const resume = this.changes.get(r.handle)
      if (resume === undefined) continue
      this.changes.delete(r.handle)
      resume(changeResult(r.outcome))
    }
  }

  /** Proposals committed earlier that this node has now handed to its committed stream. */
  private flushApplied(ready: Ready, now: number, applied: number, metering: boolean): void {
    const u = this.unapplied
    let done = 0
    for (const p of u) {
      if (p.index > applied) continue
      done++
      this.stats.applied(now - p.startedAt)
      if (metering) ready.metrics.push({ _tag: "ProposeApplied", logIndex: p.index, elapsedMs: now - p.startedAt })
    }
    if (done === 0) return
    const rest = u.filter((p) => p.index > applied)
    u.length = 0
    for (const p of rest) u.push(p)
  }

  /** The node failed with `error`: tell whoever awaits it (before `close`). */
  failed(error: RaftNodeFailure): void {
    this.failure = error
    for (const w of this.failureWaiters.splice(0)) w(error)
  }

  /**
   * Closes: every waiting caller gets a typed failure, and so does every call still queued in the
   * mailbox. False when already closed.
   */
  close(reason: string): boolean {
    if (this.closed) return false
    this.closed = true
    // Proposals still queued never reached the core: the node is simply closed for them.
    for (const input of this.mailbox.takeAll()) {
      if (input._tag === "Propose") {
        this.waiting.delete(input.handle)
        answer(input, Effect.fail(closedNotLeader()))
      }
      if (input._tag === "Read" || input._tag === "Transfer") input.waiter.rejectClosed()
      if (input._tag === "ChangeMembership") input.resume(Effect.fail(closedNotLeader()))
    }
    for (const p of this.queued.splice(0)) answer(p, Effect.fail(closedNotLeader()))
    for (const [, proposal] of this.waiting) answer(proposal, Effect.fail(new LeadershipLost({ reason })))
    this.waiting.clear()
    for (const [, waiter] of this.requests) waiter.close(reason)
    this.requests.clear()
    for (const [, resume] of this.changes) resume(Effect.fail(new LeadershipLost({ reason })))
    this.changes.clear()
    return true
  }
}
