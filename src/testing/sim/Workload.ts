/**
 * Simulated clients (reference §3.6 "Workload + oracle"): each has a session (its id and a serial),
 * issues get/put/cas/delete on a handful of keys with unique values, through a random node, and
 * retries a request that timed out or lost its leader on another node under the SAME serial —
 * the state machine's `ClientSessionTable` makes the retry exactly-once (B9). Every invocation
 * and completion goes into one ordered history; a request that never got an answer is recorded
 * with an unknown outcome.
 */
import type { KvInput, KvOutput } from "../linearizability/KvModel.js"
import { HistoryRecorder } from "../linearizability/History.js"
import type { Resolution } from "../../raft/core/Ready.js"
import { encodeKvCommand } from "./KvStateMachine.js"
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
}

interface Waiting {
  readonly opId: number
  readonly seq: number
  readonly input: KvInput
  attempt: number
  node: string
  handle: number
  deadline: number
  /** The index the proposal committed at, once known. */
  index: number | undefined
}

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
  private nextHandle = 1
  invoked = 0
  completed = 0
  unknown = 0
  retries = 0
  /** When the last operation completed (liveness evidence). */
  lastCompletionAt = -1

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: SimRandom,
    readonly options: WorkloadOptions
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
    const opId = this.history.invoke(c.name, input)
    this.invoked++
    const w: Waiting = { opId, seq, input, attempt: 0, node: "", handle: 0, deadline: 0, index: undefined }
    c.waiting = w
    this.attempt(c, w, now)
  }

  private attempt(c: Client, w: Waiting, now: number): void {
    w.attempt++
    w.index = undefined
    const ids = [...this.cluster.nodes.keys()]
    w.node = this.random.pick(ids)
    w.handle = this.nextHandle++
    w.deadline = now + this.options.attemptTimeout
    this.byHandle.set(w.handle, c)
    this.cluster.propose(w.node, w.handle, encodeKvCommand({ client: c.name, seq: w.seq, op: w.input }))
  }

  private retryOrGiveUp(c: Client, w: Waiting, now: number): void {
    this.byHandle.delete(w.handle)
    this.cluster.cancel(w.node, w.handle)
    if (w.attempt < this.options.attempts) {
      this.retries++
      this.attempt(c, w, now)
      return
    }
    // Nobody answered: it may or may not have taken effect.
    this.history.timeout(w.opId)
    this.unknown++
    c.waiting = undefined
    c.nextAt = now + this.random.int(1, 20)
  }

  onResolved(node: SimNode, r: Resolution): void {
    const c = this.byHandle.get(r.handle)
    if (c === undefined || c.waiting === undefined || c.waiting.handle !== r.handle) return
    const w = c.waiting
    if (r.outcome._tag === "Proposed") {
      w.index = r.outcome.entry.index
      this.tryComplete(c, node)
    } else {
      // Lost leadership: the entry may still commit. Retry at once under the same serial.
      w.deadline = this.cluster.now
    }
  }

  onStep(node: SimNode): void {
    for (const c of this.clients) {
      const w = c.waiting
      if (w !== undefined && w.index !== undefined && w.node === node.id) this.tryComplete(c, node)
    }
  }

  /** Completes once the answering node's state machine has applied the entry. */
  private tryComplete(c: Client, node: SimNode): void {
    const w = c.waiting!
    if (w.index === undefined || node.sm.applied < w.index) return
    const output = node.sm.resultOf(c.name, w.seq)
    this.byHandle.delete(w.handle)
    c.waiting = undefined
    c.nextAt = this.cluster.now + this.random.int(0, 20)
    if (output === undefined) {
      // The state machine moved past our answer (a snapshot replaced it): outcome unknown.
      this.history.timeout(w.opId)
      this.unknown++
      return
    }
    if (output.type === "value") c.seen.set(w.input.key, output.value)
    if (w.input.type === "put" || (w.input.type === "cas" && output.type === "cas" && output.ok)) {
      c.seen.set(w.input.key, w.input.type === "put" ? w.input.value : w.input.to)
    }
    this.history.complete(w.opId, output)
    this.completed++
    this.lastCompletionAt = this.cluster.now
  }
}
