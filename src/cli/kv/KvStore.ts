/**
 * The built-in key-value state machine of the `kuilt` command: a map of keys to values, applied
 * from a node's committed stream in log order, identical on every replica.
 *
 * Replicated state (in snapshots): the keys with the log index that last wrote each one, the
 * `ClientSessionTable` (a command whose Raft dedup key was already applied is skipped, thesis
 * §6.3), and the results of the last `MAX_REQUEST_IDS` commands that carried a request id — a
 * retried request is answered with its first result and changes nothing, so a client may retry on
 * another server after a failover without applying a write twice.
 *
 * Local state (not replicated, rebuilt as entries are applied): the result of each recent index
 * (for the caller that proposed it), a ring of change events (for `watch`) and a short tail of the
 * log (for the dashboard).
 */
import { Either } from "effect"
import type { ClientId } from "../../../services/raft/ClientId.js"
import type { Committed } from "../../../services/raft/LogEntry.js"
import { ClientSessionTable } from "../../raft/ClientSessionTable.js"
import { decodeCommand } from "./KvCommand.js"
import type { KvCommand, KvResult } from "./KvCommand.js"

/** Request ids whose results are remembered (replicated; oldest forgotten first). */
export const MAX_REQUEST_IDS = 4096
/** Results of recent indices kept for their proposers (local). */
const MAX_RESULTS = 16_384
/** Change events kept for watchers that start in the past (local). */
export const MAX_EVENTS = 10_000
/** Lines of the log tail (local). */
export const TAIL_LINES = 64

/** A key's value and the log index that last wrote it. */
export interface KvValue {
  readonly value: string
  readonly revision: number
}

/** One change of one key, at log index `index` (`value` null: removed). */
export interface KvEvent {
  readonly index: number
  readonly key: string
  readonly type: "put" | "del"
  readonly value: string | null
  readonly previous: string | null
}

/** One line of the log tail: an applied index, its term when known, and what it was. */
export interface LogLine {
  readonly index: number
  readonly term: number | null
  readonly text: string
}

interface SnapshotV1 {
  readonly v: 1
  readonly applied: number
  readonly data: ReadonlyArray<readonly [string, string, number]>
  readonly sessions: string
  readonly rids: ReadonlyArray<readonly [string, KvResult]>
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** A snapshot that cannot be restored (corrupt bytes, a format from elsewhere). */
export class KvSnapshotError extends Error {
  override readonly name = "KvSnapshotError"
}

const shorten = (s: string, max = 48): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)

const describe = (c: KvCommand): string => {
  switch (c._tag) {
    case "Put":
      return `put ${shorten(c.key, 32)} = ${shorten(c.value)}`
    case "Del":
      return `del ${shorten(c.key, 32)}`
    case "Cas":
      return `cas ${shorten(c.key, 32)}: ${c.expected === null ? "∅" : shorten(c.expected, 20)} → ${
        c.value === null ? "∅" : shorten(c.value, 20)
      }`
  }
}

export class KvStore {
  private data = new Map<string, KvValue>()
  private sessions = ClientSessionTable.empty()
  private rids = new Map<string, KvResult>()
  private readonly results = new Map<number, KvResult>()
  private readonly events: Array<KvEvent> = []
  /** Events are complete from this index on (after a restore or an eviction, older ones are gone). */
  private eventsFrom = 1
  private readonly tailLines: Array<LogLine> = []
  /** The highest index applied (entries, internal indices and snapshots alike). */
  applied = 0
  /** Size in bytes of the last snapshot taken or installed (0 before any). */
  snapshotBytes = 0

  /** Applies one committed item; returns the change events it caused (in order). */
  apply(item: Committed): ReadonlyArray<KvEvent> {
    switch (item._tag) {
      case "Internal":
        this.applied = item.index
        this.line({ index: item.index, term: null, text: "(raft: no-op or membership)" })
        return []
      case "Install": {
        const events = this.install(item.snapshot.state, item.snapshot.throughIndex)
        this.line({
          index: item.snapshot.throughIndex,
          term: null,
          text: `(snapshot installed: ${this.data.size} keys, ${item.snapshot.state.byteLength} bytes)`
        })
        return events
      }
      case "Entry": {
        const entry = item.entry
        this.applied = entry.index
        const decoded = decodeCommand(entry.command)
        if (Either.isLeft(decoded)) {
          this.result(entry.index, { _tag: "Invalid", revision: entry.index, reason: decoded.left })
          this.line({ index: entry.index, term: entry.term, text: `(invalid command: ${shorten(decoded.left)})` })
          return []
        }
        const command = decoded.right
        this.line({ index: entry.index, term: entry.term, text: describe(command) })
        if (command.rid !== undefined) {
          const first = this.rids.get(command.rid)
          if (first !== undefined) {
            this.result(entry.index, first)
            return []
          }
        }
        if (!this.sessions.shouldApply({ clientId: entry.dedupKey.clientId as ClientId, requestId: entry.dedupKey.requestId })) {
          this.result(entry.index, { _tag: "Invalid", revision: entry.index, reason: "duplicate of an applied proposal" })
          return []
        }
        const [result, event] = this.execute(command, entry.index)
        this.result(entry.index, result)
        if (command.rid !== undefined) {
          this.rids.set(command.rid, result)
          if (this.rids.size > MAX_REQUEST_IDS) this.rids.delete(this.rids.keys().next().value!)
        }
        if (event === undefined) return []
        this.event(event)
        return [event]
      }
    }
  }

  private execute(c: KvCommand, index: number): readonly [KvResult, KvEvent | undefined] {
    const before = this.data.get(c.key)?.value ?? null
    switch (c._tag) {
      case "Put":
        this.data.set(c.key, { value: c.value, revision: index })
        return [{ _tag: "Put", revision: index, previous: before }, { index, key: c.key, type: "put", value: c.value, previous: before }]
      case "Del":
        if (before === null) return [{ _tag: "Del", revision: index, previous: null }, undefined]
        this.data.delete(c.key)
        return [{ _tag: "Del", revision: index, previous: before }, { index, key: c.key, type: "del", value: null, previous: before }]
      case "Cas": {
        if (before !== c.expected) return [{ _tag: "Cas", revision: index, ok: false, current: before }, undefined]
        if (c.value === null) {
          this.data.delete(c.key)
        } else {
          this.data.set(c.key, { value: c.value, revision: index })
        }
        const event: KvEvent | undefined = before === null && c.value === null
          ? undefined
          : { index, key: c.key, type: c.value === null ? "del" : "put", value: c.value, previous: before }
        return [{ _tag: "Cas", revision: index, ok: true, current: c.value }, event]
      }
    }
  }

  /** The value of `key`, if set. */
  get(key: string): KvValue | undefined {
    return this.data.get(key)
  }

  /** Keys starting with `prefix`, sorted, at most `limit` of them. */
  list(prefix: string, limit: number): ReadonlyArray<readonly [string, KvValue]> {
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort()
    return keys.slice(0, limit).map((k) => [k, this.data.get(k)!] as const)
  }

  /** Number of keys. */
  get size(): number {
    return this.data.size
  }

  /** What applying `index` answered, while it is recent (see `MAX_RESULTS`). */
  resultAt(index: number): KvResult | undefined {
    return this.results.get(index)
  }

  /**
   * The change events from `index` on, or `Left(first)` when events before `first` (the oldest
   * index still complete) were asked for: they were dropped or covered by a snapshot.
   */
  eventsSince(index: number): Either.Either<ReadonlyArray<KvEvent>, number> {
    if (index < this.eventsFrom) return Either.left(this.eventsFrom)
    let lo = 0
    let hi = this.events.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.events[mid]!.index < index) lo = mid + 1
      else hi = mid
    }
    return Either.right(this.events.slice(lo))
  }

  /** The last `TAIL_LINES` applied items, oldest first. */
  get tail(): ReadonlyArray<LogLine> {
    return this.tailLines
  }

  /** The replicated state as bytes (for `publishSnapshot`). */
  snapshot(): Uint8Array {
    const s: SnapshotV1 = {
      v: 1,
      applied: this.applied,
      data: [...this.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, v.value, v.revision] as const),
      sessions: fromUtf8.decode(this.sessions.toBytes()),
      rids: [...this.rids]
    }
    const bytes = utf8.encode(JSON.stringify(s))
    this.snapshotBytes = bytes.byteLength
    return bytes
  }

  /**
   * Replaces the state with a snapshot through `throughIndex`; returns the events that turn the
   * old state into the new one (so watchers see what the snapshot changed). Throws
   * `KvSnapshotError` on bytes that are not a snapshot of this store.
   */
  private install(bytes: Uint8Array, throughIndex: number): ReadonlyArray<KvEvent> {
    let s: SnapshotV1
    try {
      s = JSON.parse(fromUtf8.decode(bytes)) as SnapshotV1
    } catch (e) {
      throw new KvSnapshotError(`the snapshot through ${throughIndex} is not JSON: ${String(e)}`)
    }
    if (s === null || typeof s !== "object" || s.v !== 1 || !Array.isArray(s.data) || !Array.isArray(s.rids)) {
      throw new KvSnapshotError(`the snapshot through ${throughIndex} is not a kuilt KV snapshot`)
    }
    const table = ClientSessionTable.fromBytes(utf8.encode(s.sessions))
    if (Either.isLeft(table)) throw new KvSnapshotError(`the snapshot's session table: ${table.left.reason}`)
    const next = new Map<string, KvValue>(s.data.map(([k, value, revision]) => [k, { value, revision }]))
    const events: Array<KvEvent> = []
    for (const [key, old] of this.data) {
      if (!next.has(key)) events.push({ index: throughIndex, key, type: "del", value: null, previous: old.value })
    }
    for (const [key, now] of next) {
      const old = this.data.get(key)
      if (old === undefined || old.value !== now.value) {
        events.push({ index: throughIndex, key, type: "put", value: now.value, previous: old?.value ?? null })
      }
    }
    const before = this.applied
    this.data = next
    this.sessions = table.right
    this.rids = new Map(s.rids.map(([rid, result]) => [rid, result]))
    this.applied = throughIndex
    this.snapshotBytes = bytes.byteLength
    // A watcher that saw everything through `before` gets the difference above as the changes
    // after it; the history before it is gone.
    this.events.length = 0
    this.eventsFrom = before + 1
    for (const e of events) this.event(e)
    return events
  }

  private result(index: number, result: KvResult): void {
    this.results.set(index, result)
    if (this.results.size > MAX_RESULTS) this.results.delete(this.results.keys().next().value!)
  }

  private event(e: KvEvent): void {
    this.events.push(e)
    if (this.events.length > MAX_EVENTS) {
      const dropped = this.events.splice(0, this.events.length - MAX_EVENTS)
      this.eventsFrom = dropped[dropped.length - 1]!.index + 1
    }
  }

  private line(l: LogLine): void {
    this.tailLines.push(l)
    if (this.tailLines.length > TAIL_LINES) this.tailLines.shift()
  }
}
