/**
 * The in-memory image of the log above the snapshot (Figure 2 `log[]`). Index `i` lives at
 * `entries[i - snapshotIndex - 1]`; the snapshot stands in for everything at or below
 * `snapshotIndex`, whose term is still known for the §5.3 consistency check.
 */
import type { LogEntry } from "./Entries.js"

export class RaftLog {
  snapshotIndex = 0
  snapshotTerm = 0
  private entries: Array<LogEntry> = []

  get lastIndex(): number {
    return this.snapshotIndex + this.entries.length
  }

  get lastTerm(): number {
    const n = this.entries.length
    return n === 0 ? this.snapshotTerm : this.entries[n - 1]!.term
  }

  /** Number of entries held (above the snapshot). */
  get size(): number {
    return this.entries.length
  }

  /** The term at `index`, or `undefined` when compacted away (below the snapshot) or beyond the end. */
  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm
    if (index < this.snapshotIndex || index > this.lastIndex) return undefined
    return this.entries[index - this.snapshotIndex - 1]!.term
  }

  entry(index: number): LogEntry | undefined {
    if (index <= this.snapshotIndex || index > this.lastIndex) return undefined
    return this.entries[index - this.snapshotIndex - 1]
  }

  /**
   * Entries from `from` on, at most `maxCount`, cut so their summed `sizeOf` stays within
   * `budget` — but always at least one entry, so a large entry still moves (the frame check at the
   * transport is the last resort).
   */
  slice(from: number, maxCount: number, budget: number, sizeOf: (e: LogEntry) => number): Array<LogEntry> {
    const start = from - this.snapshotIndex - 1
    if (start < 0 || start >= this.entries.length) return []
    const end = Math.min(this.entries.length, start + maxCount)
    // No budget (the transport's is unknown): nothing to measure.
    if (budget === Infinity) return this.entries.slice(start, end)
    let used = 0
    let i = start
    for (; i < end; i++) {
      const size = sizeOf(this.entries[i]!)
      if (i > start && used + size > budget) break
      used += size
    }
    return this.entries.slice(start, i)
  }

  /** All entries in `[from, toInclusive]` that are held. */
  range(from: number, toInclusive: number): Array<LogEntry> {
    const start = Math.max(0, from - this.snapshotIndex - 1)
    const end = Math.min(this.entries.length, toInclusive - this.snapshotIndex)
    return start < end ? this.entries.slice(start, end) : []
  }

  /** Appends entries that continue the log exactly (the caller has checked contiguity). */
  append(entries: ReadonlyArray<LogEntry>): void {
    for (const e of entries) this.entries.push(e)
  }

  appendOne(entry: LogEntry): void {
    this.entries.push(entry)
  }

  /** Removes every entry with index ≥ `from` (never the snapshot). */
  truncateFrom(from: number): void {
    const keep = Math.max(0, from - this.snapshotIndex - 1)
    if (keep < this.entries.length) this.entries.length = keep
  }

  /** The first index of the run of `term` that ends at `index` (§5.3 fast backup hint). */
  firstIndexOfTermEndingAt(index: number): number {
    const term = this.termAt(index)
    let i = index
    while (i - 1 > this.snapshotIndex && this.termAt(i - 1) === term) i--
    return i
  }

  /** The last index whose term is `term`, or 0 if the log holds none (leader side of fast backup). */
  lastIndexOfTerm(term: number): number {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const t = this.entries[i]!.term
      if (t === term) return this.snapshotIndex + i + 1
      if (t < term) break
    }
    return 0
  }

  /**
   * §5.4.1: is a log ending at (`lastIndex`, `lastTerm`) at least as up to date as this one?
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex)
  }

  /** Drops the prefix through `index` (which must be held or equal the snapshot), recording its term. */
  compact(index: number, term: number): void {
    if (index <= this.snapshotIndex) return
    const drop = Math.min(this.entries.length, index - this.snapshotIndex)
    this.entries.splice(0, drop)
    this.snapshotIndex = index
    this.snapshotTerm = term
  }

  /** Replaces everything with a snapshot baseline (a follower installing a snapshot it cannot splice). */
  reset(index: number, term: number): void {
    this.entries = []
    this.snapshotIndex = index
    this.snapshotTerm = term
  }
}
