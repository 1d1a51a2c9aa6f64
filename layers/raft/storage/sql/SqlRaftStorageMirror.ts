/**
 * What `SqlRaftStorage` keeps in memory about its own tables: the hard state, leader record,
 * snapshot meta, discarded-prefix floor, the layout of the log's runs and the term of every
 * stored entry. Write validation (`validateWriteBatch`) and write planning read it instead of the
 * database, so a write costs no query; it is changed only after a transaction commits, so a
 * failed write leaves it equal to the tables.
 *
 * The storage is the only writer of its tables (one instance at a time; the SQLite layer also
 * takes an exclusive lock on the file), which is what makes the mirror trustworthy.
 */
import type { HardState, LeaderForTerm, SnapshotMeta } from "../../../../services/raft/RaftStorage.js"
import type { StoredLogView } from "../../../../services/raft/validateWriteBatch.js"

/** A run as the mirror knows it: its index range (the data stays in the database). */
export interface RunSpan {
  readonly first: number
  last: number
}

export class Mirror implements StoredLogView {
  hardState: HardState = { term: 0, votedFor: null }
  leaderForTerm: LeaderForTerm | null = null
  snapshot: SnapshotMeta | null = null
  /** Entries with index ≤ floor are discarded (a straddling run may still hold their bytes). */
  floor = 0
  /** Stored runs, in index order, contiguous. */
  readonly runs: Array<RunSpan> = []
  /** Term of every entry held in `runs`, from `runs[0].first` on. */
  terms: Array<number> = []

  /** First live entry (above the floor), or undefined when the log is empty. */
  get firstIndex(): number | undefined {
    if (this.runs.length === 0) return undefined
    return Math.max(this.runs[0]!.first, this.floor + 1)
  }

  get lastIndex(): number | undefined {
    return this.runs.length === 0 ? undefined : this.runs[this.runs.length - 1]!.last
  }

  /** Index of the first entry held in `runs` (dead bytes below the floor included). */
  get storedFirst(): number | undefined {
    return this.runs.length === 0 ? undefined : this.runs[0]!.first
  }

  readonly termAt = (index: number): number => this.terms[index - this.runs[0]!.first]!

  /** Position in `runs` of the run holding `index` (held), by binary search. */
  runHolding(index: number): number {
    let lo = 0
    let hi = this.runs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.runs[mid]!.first <= index) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  clearLog(): void {
    this.runs.length = 0
    this.terms = []
  }

  /** Keeps the entries below `index` (> the first stored index): drops later runs, cuts the straddler. */
  truncateFrom(index: number): void {
    const k = this.runHolding(index)
    const run = this.runs[k]!
    if (run.first >= index) this.runs.length = k
    else {
      run.last = index - 1
      this.runs.length = k + 1
    }
    this.terms.length = index - this.runs[0]!.first
  }

  appendRun(first: number, terms: ReadonlyArray<number>): void {
    this.runs.push({ first, last: first + terms.length - 1 })
    for (const t of terms) this.terms.push(t)
  }

  /** Drops the first `count` runs (wholly at or below the floor). */
  dropRuns(count: number): void {
    if (count <= 0) return
    if (count >= this.runs.length) return this.clearLog()
    const next = this.runs[count]!.first
    this.terms = this.terms.slice(next - this.runs[0]!.first)
    this.runs.splice(0, count)
  }
}
