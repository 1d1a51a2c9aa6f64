/**
 * Counters and the optional delivery trace of the in-memory fabric.
 *
 * Counters are plain mutable numbers (the hot path increments them synchronously); readers get
 * immutable snapshots. The trace records every delivery into a receiver's queue, in delivery
 * order, plus a rolling hash over all of them, so a test can prove that a seeded run is
 * reproducible without comparing megabytes of entries.
 */
import type { PeerId } from "../../../services/seam/PeerId.js"

/** Frames the fabric dropped, by cause. */
export interface DropCounts {
  /** Lost to a partition (cut, one-way cut or isolation). */
  readonly cut: number
  /** Lost to the random drop probability. */
  readonly random: number
  /** Lost to a full link: the oldest frame under `Lossy`, or the frame that tore a `Strict` receiver. */
  readonly overflow: number
  /** Broadcasts over the payload budget (one per broadcast call). */
  readonly budget: number
  /** Addressed to a seam that tore before the frame arrived. */
  readonly torn: number
}

/** A snapshot of a loom's counters. */
export interface LoomStats {
  /** Frames accepted for transmission, one per addressed peer (a broadcast to 3 peers counts 3). */
  readonly sent: number
  /** Frames queued to a receiver, duplicates and injected frames included. */
  readonly delivered: number
  /** Frames delivered through `inject`. */
  readonly injected: number
  /** Extra copies created by the duplicate probability. */
  readonly duplicated: number
  /** Frames taken out of their link's FIFO order by the reorder probability. */
  readonly reordered: number
  readonly dropped: DropCounts
}

/** One delivery into a receiver's queue. */
export interface TraceEntry {
  /** Clock time (ms) of the delivery. */
  readonly at: number
  readonly from: PeerId
  readonly to: PeerId
  /**
   * The frame's send number on its link (1 for the first frame `from` sent to this incarnation of
   * `to`); a duplicate repeats it, a reordered frame shows up out of order, injected frames use 0.
   */
  readonly sequence: number
  /** Payload size in bytes. */
  readonly size: number
}

/** A snapshot of the delivery trace. */
export interface LoomTrace {
  /** The most recent entries (at most the trace limit), oldest first. */
  readonly entries: ReadonlyArray<TraceEntry>
  /** Deliveries recorded since the loom was made (may exceed `entries.length`). */
  readonly count: number
  /** Rolling 32-bit FNV-1a hash over every recorded delivery, as 8 hex digits. */
  readonly hash: string
}

/** Mutable counters; `snapshot` copies them out. */
export class Counters {
  sent = 0
  delivered = 0
  injected = 0
  duplicated = 0
  reordered = 0
  droppedCut = 0
  droppedRandom = 0
  droppedOverflow = 0
  droppedBudget = 0
  droppedTorn = 0

  snapshot(): LoomStats {
    return {
      sent: this.sent,
      delivered: this.delivered,
      injected: this.injected,
      duplicated: this.duplicated,
      reordered: this.reordered,
      dropped: {
        cut: this.droppedCut,
        random: this.droppedRandom,
        overflow: this.droppedOverflow,
        budget: this.droppedBudget,
        torn: this.droppedTorn
      }
    }
  }
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** Default number of trace entries kept when tracing is on. */
export const DEFAULT_TRACE_LIMIT = 100_000

/** Records deliveries; only exists when the loom was made with tracing on. */
export class DeliveryTrace {
  private readonly ring: Array<TraceEntry> = []
  private start = 0
  private count = 0
  private hash = FNV_OFFSET

  constructor(private readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`trace limit must be an integer ≥ 0, got ${limit}`)
  }

  record(at: number, from: PeerId, to: PeerId, sequence: number, size: number): void {
    this.count++
    let h = this.hash
    h = mixNumber(h, at)
    h = mixString(h, from)
    h = mixString(h, to)
    h = mixNumber(h, sequence)
    h = mixNumber(h, size)
    this.hash = h
    if (this.limit === 0) return
    const entry: TraceEntry = { at, from, to, sequence, size }
    if (this.ring.length < this.limit) {
      this.ring.push(entry)
    } else {
      // Full: overwrite the oldest slot so memory stays bounded on long simulations.
      this.ring[this.start] = entry
      this.start = (this.start + 1) % this.limit
    }
  }

  snapshot(): LoomTrace {
    const entries = this.ring.slice(this.start).concat(this.ring.slice(0, this.start))
    return { entries, count: this.count, hash: (this.hash >>> 0).toString(16).padStart(8, "0") }
  }
}

/** The trace snapshot of a loom made without tracing. */
export const EMPTY_TRACE: LoomTrace = { entries: [], count: 0, hash: FNV_OFFSET.toString(16) }

const mixByte = (h: number, byte: number): number => Math.imul(h ^ (byte & 0xff), FNV_PRIME)

function mixNumber(h: number, n: number): number {
  // Times may be fractional (jitter is whole ms, but a caller may configure fractional latency):
  // hash the decimal text so every distinct value mixes differently.
  return mixString(h, `${n};`)
}

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    h = mixByte(h, c)
    h = mixByte(h, c >>> 8)
  }
  return mixByte(h, 0)
}
