/**
 * Simulated clients (reference §3.6 "Workload + oracle"): each has a session (its id and a serial),
 * issues get/put/cas/delete on a handful of keys with unique values, through a random node, and
 * retries a request that timed out or lost its leader under the SAME serial — the state
 * machine's `ClientSessionTable` makes the retry exactly-once (B9). Half the write retries go
 * back to the same node under the core request id of the first attempt, and some attempts are
 * impatient, so retries reach a leader that still has the original in flight or committed: its
 * dedup cache must absorb them (checked by `ExactlyOnceWithinTerm`). Every invocation and
 * completion goes into one ordered history; a request that never got an answer is recorded with
 * an unknown outcome.
 *
 * A fraction of gets are linearizable reads that bypass the log (thesis §6.4): `readIndex` on a
 * node that believes it leads, a read fence (`readFence`) on any other — follower or learner —
 * then the answer comes from THAT node's state machine once it applied up to the fence. A read
 * that gets no answer is dropped from the history (`fail`): it cannot have had an effect. Its
 * fence must cover the highest commit index any node held when the attempt was made (§4.2 #9);
 * the linearizability checker judges the values.
 *
 * Clients only talk to members of the configuration the operator knows (removed nodes get no
 * traffic). A refusal (`NotLeader`, `LeadershipLost`: say, during a leadership transfer) is
 * retried after a short backoff, as a client library would, rather than at once.
 */
import type { KvInput, KvOutput } from "../linearizability/KvModel.js"
import { HistoryRecorder } from "../linearizability/History.js"
import type { Resolution } from "../../raft/core/Ready.js"
import { encodeKvCommand } from "./KvStateMachine.js"
import type { InvariantChecker } from "./Invariants.js"
import type { SimCluster, SimNode, SimObserver } from "./SimCluster.js"
import type { SimRandom } from "./SimRandom.js"

export interface WorkloadOptions {
  readonly clients: number
  readonly keys: number
  /** Operations to invoke in total. */
  readonly operations: number
  /** Give up on one attempt after this many ms. */
  readonly attemptTimeout: number
  /** Attempts per operation (first try + retries) before recording an unknown outcome. */
  readonly attempts: number
  /** Fraction of gets served by ReadIndex / read fences instead of through the log. */
  readonly readFraction?: number
}

interface Waiting {
  readonly opId: number
  readonly seq: number
  readonly input: KvInput
  attempt: number
  node: string
  handle: number
  deadline: number
  /** The index the proposal committed at (or the read fence), once known. */
  index: number | undefined
  /** A get served by ReadIndex / a read fence rather than through the log. */
  readonly viaRead: boolean
  /** `InvariantChecker.maxCommit` when this attempt started (the fence must cover it). */
  commitAtCall: number
  /** The current attempt was refused outright; refusals retry without using up an attempt. */
  refused: boolean
  refusals: number
  /** Where the last fresh attempt went and the request id that node stamped on it. */
  pinned: { readonly node: string; readonly incarnation: number; readonly requestId: number } | undefined
}

/** Refusals (not timeouts) an operation may get before it counts them as attempts. */
const MAX_REFUSALS = 8

interface Client {
  readonly name: string
  seq: number
  nextAt: number
  waiting: Waiting | undefined
  /** Last value this client saw per key (feeds plausible CAS expectations). */
  readonly seen: Map<string, string | null>
}

export class Workload implements SimObserver {
  readonly history = new HistoryRecorder<KvInput, KvOutput>()
  private readonly clients: Array<Client> = []
  private readonly byHandle = new Map<number, Client>()
  invoked = 0
  /** Retries sent to the same node under the request id it stamped on the first attempt. */
  pinnedRetries = 0
  /** Reads served through ReadIndex / read fences (by the role of the node that answered). */
  readonly reads = { leader: 0, follower: 0, learner: 0, dropped: 0 }
  completed = 0
  unknown = 0
  retries = 0
  /** When the last operation completed (liveness evidence). */
  lastCompletionAt = -1

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: SimRandom,
    readonly options: WorkloadOptions,
    private readonly targets: () => ReadonlyArray<string>,
    private readonly invariants: InvariantChecker
  ) {
    for (let i = 0; i < options.clients; i++) {
      this.clients.push({ name: `c${i}`, seq: 0, nextAt: random.int(0, 20), waiting: undefined, seen: new Map() })
    }
  }

  /** True once every operation was invoked and answered (or given up). */
  get done(): boolean {
    return this.invoked >= this.options.operations && this.clients.every((c) => c.waiting === undefined)
  }

  get busyClients(): number {
    return this.clients.filter((c) => c.waiting !== undefined).length
  }

  /** The earliest time a client needs attention. */
  nextAt(): number {
    let t = Infinity
    for (const c of this.clients) {
      if (c.waiting !== undefined) t = Math.min(t, c.waiting.deadline)
      else if (this.invoked < this.options.operations) t = Math.min(t, c.nextAt)
    }
    return t
  }

  /** Starts due operations and handles attempts whose deadline passed. */
  tick(now: number, allowNew: boolean): void {
    for (const c of this.clients) {
      const w = c.waiting
      if (w !== undefined) {
        if (now >= w.deadline) this.retryOrGiveUp(c, w, now)
        continue
      }
      if (!allowNew || this.invoked >= this.options.operations || now < c.nextAt) continue
      this.invoke(c, now)
    }
  }

  private invoke(c: Client, now: number): void {
    const key = `k${this.random.int(0, this.options.keys)}`
    const seq = ++c.seq
    const value = `${c.name}.${seq}`
    const roll = this.random.next()
    const input: KvInput = roll < 0.4
      ? { type: "get", key }
      : roll < 0.7
      ? { type: "put", key, value }
      : roll < 0.9
      ? { type: "cas", key, from: c.seen.get(key) ?? null, to: value }
      : { type: "delete", key }
    const viaRead = input.type === "get" && this.random.chance(this.options.readFraction ?? 0)
    const opId = this.history.invoke(c.name, input)
    this.invoked++
    const w: Waiting = { opId, seq, input, attempt: 0, node: "", handle: 0, deadline: 0, index: undefined, viaRead, commitAtCall: 0, refused: false, refusals: 0, pinned: undefined }
    c.waiting = w
    this.attempt(c, w, now)
  }

  private attempt(c: Client, w: Waiting, now: number): void {
    w.attempt++
    w.index = undefined
    const pin = w.pinned
    // Half the retries of a write go back to the node of the previous attempt with the request id
    // it stamped then (a client library's retry): the leader's dedup cache must answer it from
    // the committed entry or attach it to the one in flight instead of appending a copy (§6.3).
    const sticky = !w.viaRead && pin !== undefined && this.cluster.node(pin.node).incarnation === pin.incarnation &&
      this.random.chance(0.5)
    w.node = sticky ? pin.node : this.random.pick(this.targets())
    w.handle = this.cluster.nextHandle()
    // An impatient attempt now and then: its retry overtakes the original still in flight.
    w.deadline = now + (this.random.chance(0.2) ? this.random.int(20, 80) : this.options.attemptTimeout)
    this.byHandle.set(w.handle, c)
    if (w.viaRead) {
      w.commitAtCall = this.invariants.maxCommit
      // `readIndex` where the client believes it reaches the leader (sometimes a stale one),
      // a read fence elsewhere (and sometimes on the leader too: the same path from there).
      const core = this.cluster.node(w.node).core
      const via = core?.role === "Leader" && this.random.chance(0.6) ? "readIndex" : "readFence"
      this.cluster.read(w.node, w.handle, via)
      return
    }
    const command = encodeKvCommand({ client: c.name, seq: w.seq, op: w.input })
    if (sticky) {
      this.pinnedRetries++
      this.cluster.propose(w.node, w.handle, command, pin.requestId)
      return
    }
    const node = this.cluster.node(w.node)
    if (this.cluster.propose(w.node, w.handle, command)) {
      w.pinned = { node: w.node, incarnation: node.incarnation, requestId: node.core!.serial }
    }
  }

  private retryOrGiveUp(c: Client, w: Waiting, now: number): void {
    this.byHandle.delete(w.handle)
    this.cluster.cancel(w.node, w.handle)
    if (w.refused && w.refusals < MAX_REFUSALS) {
      // A refusal is an answer, not a lost attempt (a transfer in flight, a stale leader).
      w.refused = false
      w.refusals++
      w.attempt--
      this.retries++
      this.attempt(c, w, now)
      return
    }
    w.refused = false
    if (w.attempt < this.options.attempts) {
      this.retries++
      this.attempt(c, w, now)
      return
    }
    c.waiting = undefined
    if (w.viaRead) {
      // A read has no effect: an unanswered one is simply not part of the history.
      this.history.fail(w.opId)
      this.reads.dropped++
      c.nextAt = now + this.random.int(1, 20)
      return
    }
    // Nobody answered: it may or may not have taken effect.
    this.history.timeout(w.opId)
    this.unknown++
    c.nextAt = now + this.random.int(1, 20)
  }

  onResolved(node: SimNode, r: Resolution): void {
    const c = this.byHandle.get(r.handle)
    if (c === undefined || c.waiting === undefined || c.waiting.handle !== r.handle) return
    const w = c.waiting
    const o = r.outcome
    if (o._tag === "Proposed" && !w.viaRead) {
      w.index = o.entry.index
      this.tryComplete(c, node)
    } else if (o._tag === "Read" && w.viaRead) {
      this.invariants.checkReadFence(node, o.index, w.commitAtCall)
      w.index = o.index
      this.tryComplete(c, node)
    } else {
      // Refused or lost leadership (a proposal may still commit): retry soon, under the same serial.
      w.refused = true
      w.deadline = Math.min(w.deadline, this.cluster.now + this.random.int(2, 15))
    }
  }

  onStep(node: SimNode): void {
    for (const c of this.clients) {
      const w = c.waiting
      if (w !== undefined && w.index !== undefined && w.node === node.id) this.tryComplete(c, node)
    }
  }

  /** Completes once the answering node's state machine has applied the entry (or the fence). */
  private tryComplete(c: Client, node: SimNode): void {
    const w = c.waiting!
    if (w.index === undefined || node.sm.applied < w.index) return
    this.byHandle.delete(w.handle)
    c.waiting = undefined
    c.nextAt = this.cluster.now + this.random.int(0, 20)
    if (w.viaRead) {
      const role = node.core?.role
      this.reads[role === "Leader" ? "leader" : role === "Learner" ? "learner" : "follower"]++
      return this.finish(c, w, node.sm.read(w.input.key))
    }
    const output = node.sm.resultOf(c.name, w.seq)
    if (output === undefined) {
      // The state machine moved past our answer (a snapshot replaced it): outcome unknown.
      this.history.timeout(w.opId)
      this.unknown++
      return
    }
    this.finish(c, w, output)
  }

  private finish(c: Client, w: Waiting, output: KvOutput): void {
    if (output.type === "value") c.seen.set(w.input.key, output.value)
    if (w.input.type === "put" || (w.input.type === "cas" && output.type === "cas" && output.ok)) {
      c.seen.set(w.input.key, w.input.type === "put" ? w.input.value : w.input.to)
    }
    this.history.complete(w.opId, output)
    this.completed++
    this.lastCompletionAt = this.cluster.now
  }
}
