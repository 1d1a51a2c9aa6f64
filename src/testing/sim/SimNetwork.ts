/**
 * The simulator's network: datagram semantics (reference §3.6). Every message gets a delay of
 * `minDelay + U(0, jitter)` so reordering falls out of jitter; messages can be dropped or
 * duplicated; directed links can be cut (symmetric cuts are two directed ones, so one-way and
 * bridge partitions are just sets of cut links). Delivery is ordered by (time, sequence), which
 * makes a run a pure function of its seed.
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { SimRandom } from "./SimRandom.js"

export interface NetworkConditions {
  minDelay: number
  jitter: number
  dropRate: number
  duplicateRate: number
}

export const CALM: NetworkConditions = { minDelay: 1, jitter: 2, dropRate: 0, duplicateRate: 0 }

export interface InFlight {
  readonly at: number
  readonly seq: number
  readonly from: NodeId
  readonly to: NodeId
  readonly message: RaftMessage
}

/** Counters of what the network did, for the run summary. */
export interface NetworkStats {
  sent: number
  delivered: number
  droppedCut: number
  droppedRandom: number
  duplicated: number
}

export class SimNetwork {
  conditions: NetworkConditions = { ...CALM }
  private readonly cut = new Set<string>()
  private heap: Array<InFlight> = []
  private seq = 0
  readonly stats: NetworkStats = { sent: 0, delivered: 0, droppedCut: 0, droppedRandom: 0, duplicated: 0 }

  constructor(private readonly random: SimRandom) {}

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}>${to}`)
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`)
  }

  cutBoth(a: NodeId, b: NodeId): void {
    this.cutOneWay(a, b)
    this.cutOneWay(b, a)
  }

  healAll(): void {
    this.cut.clear()
  }

  get cutLinks(): number {
    return this.cut.size
  }

  send(now: number, from: NodeId, to: NodeId, message: RaftMessage): void {
    this.stats.sent++
    if (this.isCut(from, to)) {
      this.stats.droppedCut++
      return
    }
    if (this.random.chance(this.conditions.dropRate)) {
      this.stats.droppedRandom++
      return
    }
    this.enqueue(now, from, to, message)
    if (this.random.chance(this.conditions.duplicateRate)) {
      this.stats.duplicated++
      this.enqueue(now, from, to, message)
    }
  }

  /** Re-queues a message for later delivery (to a paused node). */
  defer(m: InFlight, at: number): void {
    this.push({ ...m, at, seq: this.seq++ })
  }

  private enqueue(now: number, from: NodeId, to: NodeId, message: RaftMessage): void {
    const delay = this.conditions.minDelay + this.random.int(0, this.conditions.jitter + 1)
    this.push({ at: now + delay, seq: this.seq++, from, to, message })
  }

  /** The earliest delivery time, or Infinity. */
  get nextAt(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.at
  }

  /** Removes and returns the next message due at or before `now`. */
  popDue(now: number): InFlight | undefined {
    if (this.heap.length === 0 || this.heap[0]!.at > now) return undefined
    const top = this.heap[0]!
    const last = this.heap.pop()!
    if (this.heap.length > 0) {
      this.heap[0] = last
      this.siftDown(0)
    }
    return top
  }

  get inFlight(): number {
    return this.heap.length
  }

  private less(a: InFlight, b: InFlight): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }

  private push(m: InFlight): void {
    const h = this.heap
    h.push(m)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  private siftDown(i: number): void {
    const h = this.heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r
      if (m === i) return
      ;[h[i], h[m]] = [h[m]!, h[i]!]
      i = m
    }
  }
}
