/**
 * The column store behind `InMemoryRaftStorage`'s disk: entries kept column by column (no object
 * per entry) and the copies made at write time. Split from the storage so each file holds one
 * concept; the storage's contract and fault hooks stay in `../InMemoryRaftStorage.ts`.
 */
import type { ClientId } from "../../../../services/raft/ClientId.js"
import type { CommandEntry, LogEntry } from "../../../../services/raft/LogEntry.js"
/**
 * Entries as kept by a disk: column by column, with no object per entry. A command keeps its
 * term, client id, request id and the place of its bytes in the slab of the batch that wrote it
 * (one buffer per batch, copied at write time); no-op and config entries keep a copied entry in
 * `other`. Per-entry objects were most of what a busy in-memory node allocated and retained per
 * entry — and what the garbage collector copied out of the young generation on every scavenge.
 * Reads rebuild fresh `LogEntry` objects, as from a disk. Positions `start..length-1` are live
 * (`start` moves on a prefix discard; the columns are compacted now and then).
 */
export class Columns {
  start = 0
  length = 0
  indices: Array<number> = []
  terms: Array<number> = []
  clientIds: Array<ClientId | undefined> = []
  requestIds: Array<number> = []
  slabs: Array<Uint8Array | undefined> = []
  offsets: Array<number> = []
  lengths: Array<number> = []
  /** The copied entry, for no-op and config entries (and odd planted commands); else undefined. */
  other: Array<LogEntry | undefined> = []

  get size(): number {
    return this.length - this.start
  }

  /** Index of the first entry (positions count from it: the log is contiguous unless planted). */
  get firstIndex(): number | undefined {
    return this.size === 0 ? undefined : this.indices[this.start]
  }

  get lastIndex(): number | undefined {
    return this.size === 0 ? undefined : this.indices[this.length - 1]
  }

  /** The term at `index` (held). */
  termAt(index: number): number {
    return this.terms[this.start + index - this.indices[this.start]!]!
  }

  /** A fresh `LogEntry` for the `k`-th entry held. */
  read(k: number): LogEntry {
    const i = this.start + k
    const other = this.other[i]
    if (other !== undefined) return copyEntry(other)
    const offset = this.offsets[i]!
    return {
      _tag: "Command",
      index: this.indices[i]!,
      term: this.terms[i]!,
      command: this.slabs[i]!.slice(offset, offset + this.lengths[i]!),
      dedupKey: { clientId: this.clientIds[i]!, requestId: this.requestIds[i]! }
    }
  }

  /** Keeps the entries below `index`. */
  truncateFrom(index: number): void {
    if (this.size === 0) return
    this.setSize(Math.max(0, Math.min(this.size, index - this.firstIndex!)))
  }

  clear(): void {
    this.setSize(0)
  }

  /** Drops the entries through `index`. */
  discardThrough(index: number): void {
    if (this.size === 0) return
    const drop = Math.min(this.size, index - this.firstIndex! + 1)
    if (drop <= 0) return
    for (let i = this.start; i < this.start + drop; i++) this.release(i)
    this.start += drop
    if (this.start === this.length) {
      this.setSize(0)
    } else if (this.start > 1024 && this.start * 2 > this.length) {
      // Slide the live part down in place: the columns keep their capacity (a `splice` would
      // also build an array of everything it removes).
      const k = this.start
      const n = this.length - k
      for (const column of this.columns()) column.copyWithin(0, k, this.length)
      for (let i = n; i < this.length; i++) this.release(i)
      this.start = 0
      this.length = n
    }
  }

  /** Appends copies of `entries` (the immediate path: no intermediate `Run`). */
  appendEntries(entries: ReadonlyArray<LogEntry>): void {
    let total = 0
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!
      if (isPlainCommand(e)) total += e.command.byteLength
    }
    const slab = new Uint8Array(total)
    let offset = 0
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!
      const i = this.length++
      this.indices[i] = e.index
      this.terms[i] = e.term
      if (!isPlainCommand(e)) {
        this.clientIds[i] = undefined
        this.requestIds[i] = 0
        this.slabs[i] = undefined
        this.offsets[i] = 0
        this.lengths[i] = 0
        this.other[i] = copyEntry(e)
        continue
      }
      const n = e.command.byteLength
      slab.set(e.command, offset)
      this.clientIds[i] = e.dedupKey.clientId
      this.requestIds[i] = e.dedupKey.requestId
      this.slabs[i] = slab
      this.offsets[i] = offset
      this.lengths[i] = n
      this.other[i] = undefined
      offset += n
    }
  }

  /** Appends a copied run. */
  append(run: Run): void {
    for (let k = 0; k < run.count; k++) {
      const i = this.length++
      this.indices[i] = run.indices[k]!
      this.terms[i] = run.terms[k]!
      this.clientIds[i] = run.clientIds[k]
      this.requestIds[i] = run.requestIds[k]!
      this.slabs[i] = run.other[k] === undefined ? run.slab : undefined
      this.offsets[i] = run.offsets[k]!
      this.lengths[i] = run.lengths[k]!
      this.other[i] = run.other[k]
    }
  }

  clone(): Columns {
    const c = new Columns()
    c.start = this.start
    c.length = this.length
    c.indices = this.indices.slice(0, this.length)
    c.terms = this.terms.slice(0, this.length)
    c.clientIds = this.clientIds.slice(0, this.length)
    c.requestIds = this.requestIds.slice(0, this.length)
    c.slabs = this.slabs.slice(0, this.length)
    c.offsets = this.offsets.slice(0, this.length)
    c.lengths = this.lengths.slice(0, this.length)
    c.other = this.other.slice(0, this.length)
    return c
  }

  private columns(): Array<Array<unknown>> {
    return [this.indices, this.terms, this.clientIds, this.requestIds, this.slabs, this.offsets, this.lengths, this.other]
  }

  /** Forgets what position `i` references (its slab and strings), keeping the columns' shape. */
  private release(i: number): void {
    this.clientIds[i] = undefined
    this.slabs[i] = undefined
    this.other[i] = undefined
  }

  private setSize(size: number): void {
    const end = this.start + size
    for (let i = end; i < this.length; i++) this.release(i)
    this.length = end
    if (size === 0) {
      this.start = 0
      this.length = 0
    }
  }
}

/** Appended entries copied at write time: the columns of `Columns`, for `count` entries. */
export interface Run {
  readonly count: number
  readonly indices: Array<number>
  readonly terms: Array<number>
  readonly clientIds: Array<ClientId | undefined>
  readonly requestIds: Array<number>
  readonly offsets: Array<number>
  readonly lengths: Array<number>
  readonly other: Array<LogEntry | undefined>
  readonly slab: Uint8Array
}

/**
 * Copies entries into a `Run`. The command bytes
 * of the whole batch go into one fresh buffer that nobody else holds: the same isolation as a copy
 * per entry, without a buffer per entry.
 */
export const copyAppend = (entries: ReadonlyArray<LogEntry>): Run => {
  const count = entries.length
  let total = 0
  for (let i = 0; i < count; i++) {
    const e = entries[i]!
    if (isPlainCommand(e)) total += e.command.byteLength
  }
  const run: Run = {
    count,
    indices: new Array(count),
    terms: new Array(count),
    clientIds: new Array(count),
    requestIds: new Array(count),
    offsets: new Array(count),
    lengths: new Array(count),
    other: new Array(count),
    slab: new Uint8Array(total)
  }
  let offset = 0
  for (let i = 0; i < count; i++) {
    const e = entries[i]!
    run.indices[i] = e.index
    run.terms[i] = e.term
    if (!isPlainCommand(e)) {
      run.clientIds[i] = undefined
      run.requestIds[i] = 0
      run.offsets[i] = 0
      run.lengths[i] = 0
      run.other[i] = copyEntry(e)
      continue
    }
    const n = e.command.byteLength
    run.slab.set(e.command, offset)
    run.clientIds[i] = e.dedupKey.clientId
    run.requestIds[i] = e.dedupKey.requestId
    run.offsets[i] = offset
    run.lengths[i] = n
    run.other[i] = undefined
    offset += n
  }
  return run
}

/** A command with bytes and a dedup key (anything else, only `plant` can store, is kept whole). */
export const isPlainCommand = (e: LogEntry): e is CommandEntry =>
  e._tag === "Command" && e.command instanceof Uint8Array && typeof e.dedupKey === "object" && e.dedupKey !== null

/** A copy of an entry kept whole (no-op, config, or a command `plant` stored as it came). */
export const copyEntry = (e: LogEntry): LogEntry => {
  switch (e._tag) {
    case "Command":
      return { ...e, command: e.command.slice(), dedupKey: { ...e.dedupKey } }
    case "NoOp":
    case "Config":
      // A ConfigPayload is an immutable value (read-only sets), shared rather than copied.
      return { ...e }
  }
}

/** A stored log holding copies of `entries` (as they are: `plant` takes unchecked content). */
export const columnsOf = (entries: ReadonlyArray<LogEntry>): Columns => {
  const c = new Columns()
  if (entries.length > 0) c.append(copyAppend(entries))
  return c
}
