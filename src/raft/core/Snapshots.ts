/**
 * Log compaction and the leader's side of InstallSnapshot (§7; sent in chunks, one in flight, as
 * the original library does). The follower's side is in `SnapshotReceive.ts`.
 *
 * Compaction is consumer-driven: the consumer publishes its state machine's bytes through some
 * applied index, and the core replaces the log prefix through that index with the snapshot — the
 * snapshot is written first and the prefix discarded in the same storage batch. The snapshot
 * records the membership in force AT THE CUT (§7: "the latest configuration as of the last
 * included index"), not the live one, because a later config entry may still be rolled back.
 *
 * The node keeps its latest snapshot in memory: a leader streams it to followers whose next entry
 * was compacted away, and any node replays it as the first item of `committedFrom(i)` when `i` is
 * at or below the compaction floor.
 *
 * Transfer is stop-and-wait, one chunk in flight per follower. The follower acknowledges the
 * number of bytes it holds and the leader resumes from there; a heartbeat resends the current
 * chunk rather than restarting, so a transfer interrupted by a partition resumes where it stopped.
 *
 * A leaf: reading the committed log, where to cut, how big a chunk is; the node (`LocalLog`,
 * `Requests`, `Leader`) persists, compacts and streams.
 */
import type { StoredSnapshot } from "./Durable.js"
import type { Committed, ConfigPayload, LogEntry } from "./Entries.js"
import { toCommitted } from "./Entries.js"
import type { RaftLog } from "./RaftLog.js"
import { HEADER_RESERVE } from "./constants.js"

// ------------------------------------------------------------------ compaction

/** The membership in force at `index`: the latest config entry at or below it, else `fallback` (the snapshot's, else bootstrap). */
export const configAt = (log: RaftLog, fallback: ConfigPayload, index: number): ConfigPayload => {
  for (let i = Math.min(index, log.lastIndex); i > log.snapshotIndex; i--) {
    const e = log.entry(i)!
    if (e._tag === "Config") return e.config
  }
  return fallback
}

/**
 * The term of the entry a compaction through `throughIndex` would cut at, or `undefined` when it
 * may not: only when `snapshotIndex < throughIndex ≤ lastEmitted` (the consumer cannot have applied
 * more than it was handed; an older or equal snapshot is redundant).
 */
export const cutTerm = (log: RaftLog, lastEmitted: number, throughIndex: number): number | undefined => {
  if (!Number.isSafeInteger(throughIndex) || throughIndex <= log.snapshotIndex || throughIndex > lastEmitted) {
    return undefined
  }
  return log.termAt(throughIndex)
}

// ------------------------------------------------------------------ reading the committed log

/** A consistent replay point: `items` cover `fromIndex..upTo`; the live stream continues after `upTo`. */
export interface Cut {
  readonly items: ReadonlyArray<Committed>
  readonly upTo: number
}

/** What reading the committed log needs: the log and the latest snapshot. */
export interface CommittedView {
  readonly log: RaftLog
  readonly snapshot: StoredSnapshot | undefined
}

/**
 * What a consumer whose next index is `cursor` may apply now, reading no further than `through`
 * (an index handed out already) and at most `max` items: `Install(latest snapshot)` first when
 * `cursor` is at or below the compaction floor (the entries it covers are gone; only once the
 * snapshot itself is at or below `through`), then the entries after it. `upTo` is the index the
 * items bring the consumer to (`cursor - 1` when there is nothing to read yet).
 *
 * Synchronous and side-effect free: each subscriber of the committed stream calls it on its own
 * fiber with its own cursor, so no consumer ever waits for — or holds up — the node.
 */
export const readCommitted = (node: CommittedView, cursor: number, through: number, max: number): Cut => {
  const items: Array<Committed> = []
  let from = Math.max(1, cursor)
  const floor = node.log.snapshotIndex
  if (from <= floor && node.snapshot !== undefined) {
    if (floor > through) return { items, upTo: from - 1 }
    items.push(installOf(node.snapshot))
    from = floor + 1
  }
  const to = Math.min(through, from + max - items.length - 1)
  for (const e of node.log.range(from, to)) items.push(toCommitted(e))
  return { items, upTo: Math.max(from - 1, to) }
}

/**
 * Everything a consumer starting at `fromIndex` must apply to catch up with what was handed out
 * so far (`readCommitted` through `lastEmitted`, unbounded).
 */
export const cut = (node: CommittedView & { readonly lastEmitted: number }, fromIndex: number): Cut =>
  readCommitted(node, fromIndex, node.lastEmitted, Infinity)

/** The consumer-facing form of a stored snapshot. */
export const installOf = (s: StoredSnapshot): Committed =>
  ({ _tag: "Install", snapshot: { throughIndex: s.meta.lastIncludedIndex, state: s.state } })

// ------------------------------------------------------------------ leader: sending

/**
 * Raw state bytes per chunk: `min(ceiling, budget − header reserve − config size)`, at least 1;
 * the ceiling alone when the budget (`maxPayload`) is unknown. The config rides on every chunk.
 */
export const chunkSize = (
  ceiling: number,
  maxPayload: number | undefined,
  entrySize: (entry: LogEntry) => number,
  s: StoredSnapshot
): number => {
  if (maxPayload === undefined) return ceiling
  const m = s.meta
  const configBytes = entrySize({ _tag: "Config", index: m.lastIncludedIndex, term: m.lastIncludedTerm, config: m.config })
  return Math.max(1, Math.min(ceiling, maxPayload - HEADER_RESERVE - configBytes))
}
