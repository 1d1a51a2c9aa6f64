/**
 * The shape of the stored log without its payloads: its bounds and its terms as runs.
 *
 * Why: write validation (`validateWriteBatch`) is synchronous and asks for the first and last
 * stored index and the term at a few indices. Reading those from IndexedDB per write would cost a
 * round trip; keeping every entry in memory would defeat a disk-backed log. Terms never decrease
 * along a Raft log (§5.3: a leader appends in its own term, above every earlier term), so the
 * whole index → term map compresses into one run per distinct term: a handful of records
 * whatever the log's length. The shape is persisted beside the entries in every batch that
 * changes the log, so opening a database reads only a few small records, and `load` checks the
 * stored entries against it (a missing, extra or re-termed entry is corruption).
 *
 * Values are immutable: every operation returns a new shape, so the instance's current shape is
 * swapped in only when the IndexedDB transaction that writes the new one has completed.
 */

/** Entries from `start` up to the next run's start (or the log's end) all have `term`. */
export interface TermRun {
  readonly start: number
  readonly term: number
}

export class LogShape {
  static readonly empty = new LogShape(undefined, undefined, [])

  private constructor(
    /** First stored index (possibly at or below the snapshot), undefined when the log is empty. */
    readonly first: number | undefined,
    /** Last stored index, undefined when the log is empty. */
    readonly last: number | undefined,
    /** Ascending starts and strictly ascending terms; the first run starts at `first`. */
    readonly runs: ReadonlyArray<TermRun>
  ) {}

  /**
   * A shape from decoded parts, or a reason why they cannot describe a log: runs must start at
   * `first`, ascend in start and term, and stay within `first..last`.
   */
  static of(first: number, last: number, runs: ReadonlyArray<TermRun>): LogShape | string {
    if (!(first >= 1 && last >= first)) return `log bounds ${first}..${last} are not a range of indices ≥ 1`
    if (runs.length === 0 || runs[0]!.start !== first) return `the first term run does not start at the first index ${first}`
    for (let k = 1; k < runs.length; k++) {
      const prev = runs[k - 1]!
      const run = runs[k]!
      if (!(run.start > prev.start && run.start <= last)) return `term run ${k} starts at ${run.start}, outside ${prev.start + 1}..${last}`
      if (!(run.term > prev.term)) return `term run ${k} has term ${run.term}, not above the previous run's ${prev.term}`
    }
    return new LogShape(first, last, runs)
  }

  get isEmpty(): boolean {
    return this.first === undefined
  }

  /** Number of stored entries. */
  get size(): number {
    return this.first === undefined ? 0 : this.last! - this.first + 1
  }

  /** The term of the stored entry at `index` (`first ≤ index ≤ last`); binary search over runs. */
  termAt(index: number): number {
    const runs = this.runs
    let lo = 0
    let hi = runs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (runs[mid]!.start <= index) lo = mid
      else hi = mid - 1
    }
    return runs[lo]!.term
  }

  /** Without the entries at `index` and above. */
  truncateFrom(index: number): LogShape {
    if (this.first === undefined || index > this.last!) return this
    if (index <= this.first) return LogShape.empty
    return new LogShape(this.first, index - 1, this.runs.filter((r) => r.start < index))
  }

  /** With `entries` appended (the caller has checked that they continue the log). */
  append(entries: ReadonlyArray<{ readonly index: number; readonly term: number }>): LogShape {
    if (entries.length === 0) return this
    const runs = this.runs.slice()
    for (const e of entries) if (runs.length === 0 || runs[runs.length - 1]!.term !== e.term) runs.push({ start: e.index, term: e.term })
    return new LogShape(this.first ?? entries[0]!.index, entries[entries.length - 1]!.index, runs)
  }

  /** Without the entries at `index` and below (idempotent; a floor below `first` changes nothing). */
  discardThrough(index: number): LogShape {
    if (this.first === undefined || index < this.first) return this
    if (index >= this.last!) return LogShape.empty
    const first = index + 1
    const runs: Array<TermRun> = []
    for (let k = 0; k < this.runs.length; k++) {
      const run = this.runs[k]!
      const next = this.runs[k + 1]
      if (next !== undefined && next.start <= first) continue // the run ends below the new first index
      runs.push(run.start < first ? { start: first, term: run.term } : run)
    }
    return new LogShape(first, this.last, runs)
  }
}
