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
 */
import type { InstallSnapshotResponse } from "../../codec/raft/RaftMessage.js"
import type { ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import { Committed } from "../../../services/raft/LogEntry.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { StoredSnapshot } from "../../../services/raft/RaftStorage.js"
import { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { HEADER_RESERVE } from "./constants.js"
import type { Progress } from "./Progress.js"
import type { RaftCore } from "./RaftCore.js"
import * as ReadIndex from "./ReadIndex.js"
import * as Replication from "./Replication.js"

// ------------------------------------------------------------------ compaction

/** The membership in force at `index`: the latest config entry at or below it, else the snapshot's, else bootstrap. */
export const configAt = (core: RaftCore, index: number): ConfigPayload => {
  for (let i = Math.min(index, core.log.lastIndex); i > core.log.snapshotIndex; i--) {
    const e = core.log.entry(i)!
    if (e._tag === "Config") return e.config
  }
  return core.snapshotConfig ?? core.bootstrap
}

/**
 * Compacts the log through `throughIndex` with the consumer's `state`. Applies only when
 * `snapshotIndex < throughIndex ≤ lastEmitted` (the consumer cannot have applied more than it was
 * handed; an older or equal snapshot is redundant). Returns whether it applied.
 */
export const compact = (core: RaftCore, throughIndex: number, state: Uint8Array): boolean => {
  if (!Number.isSafeInteger(throughIndex) || throughIndex <= core.log.snapshotIndex || throughIndex > core.lastEmitted) {
    return false
  }
  const term = core.log.termAt(throughIndex)
  if (term === undefined) return false
  const stored: StoredSnapshot = {
    meta: { lastIncludedIndex: throughIndex, lastIncludedTerm: term, config: configAt(core, throughIndex) },
    state
  }
  persistSnapshot(core, stored, true)
  core.trace(RaftTraceEvent.Compacted({ at: core.now, node: core.id, throughIndex, throughTerm: term }))
  return true
}

/**
 * Makes `stored` the node's snapshot: in memory, and in this turn's storage batch (snapshot
 * first, then the prefix discard). `keepSuffix`: the log above the snapshot stays (its entry at
 * `lastIncludedIndex` matches); otherwise the whole log is wiped (§7 receiver rules 6–7).
 */
export const persistSnapshot = (core: RaftCore, stored: StoredSnapshot, keepSuffix: boolean): void => {
  const { lastIncludedIndex: index, lastIncludedTerm: term } = stored.meta
  const p = core.ready.persist
  p.snapshot = stored
  if (keepSuffix) {
    core.log.compact(index, term)
    // Entries appended earlier this turn that the snapshot now covers must not be written: the
    // storage expects an append after a snapshot beyond its log to start at `index + 1`.
    if (p.append.length > 0 && p.append[0]!.index <= index) p.append = p.append.filter((e) => e.index > index)
  } else {
    core.log.reset(index, term)
    core.ready.truncate(1)
    if (core.durableLast > index) core.durableLast = index
  }
  p.discardThrough = Math.max(p.discardThrough ?? 0, index)
  core.snapshot = stored
  core.snapshotConfig = stored.meta.config
}

// ------------------------------------------------------------------ reading the committed log

/** A consistent replay point: `items` cover `fromIndex..upTo`; the live stream continues after `upTo`. */
export interface Cut {
  readonly items: ReadonlyArray<Committed>
  readonly upTo: number
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
export const readCommitted = (core: RaftCore, cursor: number, through: number, max: number): Cut => {
  const items: Array<Committed> = []
  let from = Math.max(1, cursor)
  const floor = core.log.snapshotIndex
  if (from <= floor && core.snapshot !== undefined) {
    if (floor > through) return { items, upTo: from - 1 }
    items.push(installOf(core.snapshot))
    from = floor + 1
  }
  const to = Math.min(through, from + max - items.length - 1)
  for (const e of core.log.range(from, to)) items.push(toCommitted(e))
  return { items, upTo: Math.max(from - 1, to) }
}

/**
 * Everything a consumer starting at `fromIndex` must apply to catch up with what was handed out
 * so far (`readCommitted` through `lastEmitted`, unbounded).
 */
export const cut = (core: RaftCore, fromIndex: number): Cut => readCommitted(core, fromIndex, core.lastEmitted, Infinity)

// Read once: every property read of a `Data.taggedEnum` builds a fresh constructor.
const CommittedEntry = Committed.Entry
const CommittedInternal = Committed.Internal

/** `asCommitted` (LogEntry.ts) with the constructors read once: it runs for every committed entry. */
export const toCommitted = (entry: LogEntry): Committed =>
  entry._tag === "Command" ? CommittedEntry({ entry }) : CommittedInternal({ index: entry.index })

/** The consumer-facing form of a stored snapshot. */
export const installOf = (s: StoredSnapshot): Committed =>
  Committed.Install({ snapshot: { throughIndex: s.meta.lastIncludedIndex, state: s.state } })

// ------------------------------------------------------------------ leader: sending

/**
 * Raw state bytes per chunk: `min(snapshotChunkCeiling, budget − header reserve − config size)`,
 * at least 1; the ceiling alone when the budget is unknown. The config rides on every chunk.
 */
export const chunkSize = (core: RaftCore, s: StoredSnapshot): number => {
  const ceiling = core.cfg.snapshotChunkCeiling
  if (core.maxPayload === undefined) return ceiling
  const m = s.meta
  const configBytes = core.entrySize({ _tag: "Config", index: m.lastIncludedIndex, term: m.lastIncludedTerm, config: m.config })
  return Math.max(1, Math.min(ceiling, core.maxPayload - HEADER_RESERVE - configBytes))
}

/**
 * Sends `peer` the chunk of our latest snapshot at its acknowledged offset, entering (or
 * switching to) a transfer of that snapshot first. Called when the follower's next entry was
 * compacted away, on every heartbeat while transferring, and on every ack that moved the offset.
 */
export const sendSnapshot = (core: RaftCore, peer: NodeId, pr: Progress): void => {
  const s = core.snapshot
  if (s === undefined) return
  const m = s.meta
  const total = s.state.byteLength
  if (pr.state !== "Snapshot" || pr.snapshotIndex !== m.lastIncludedIndex) {
    // Re-entering a transfer of the same snapshot (say, after a stale rejection put the follower
    // back in Probe) resumes at the acked offset; a different snapshot starts over.
    const resume = pr.snapshotIndex === m.lastIncludedIndex && pr.snapshotTotal === total ? pr.snapshotOffset : 0
    pr.becomeSnapshot(m.lastIncludedIndex, total)
    pr.snapshotOffset = resume
  }
  const offset = pr.snapshotOffset
  const end = Math.min(total, offset + chunkSize(core, s))
  const done = end === total
  core.send(peer, {
    _tag: "InstallSnapshot",
    term: core.term,
    lastIncludedIndex: m.lastIncludedIndex,
    lastIncludedTerm: m.lastIncludedTerm,
    offset,
    totalBytes: total,
    data: s.state.subarray(offset, end),
    done,
    config: m.config,
    round: core.reads.round
  })
  if (core.tracing) {
    core.trace(RaftTraceEvent.InstallSnapshot({
      at: core.now,
      from: core.id,
      to: peer,
      lastIncludedIndex: m.lastIncludedIndex,
      offset,
      done
    }))
  }
}

/**
 * A follower's ack: the bytes it holds of the snapshot at `lastIncludedIndex`. All of them: it is
 * credited `matchIndex = lastIncludedIndex` and AppendEntries resume. Fewer: resume from there
 * (clamped to the snapshot's size). The same offset again: wait for the heartbeat to resend, so
 * one chunk stays in flight. Any ack counts as CheckQuorum contact and as ReadIndex evidence.
 */
export const onInstallSnapshotResponse = (core: RaftCore, from: NodeId, m: InstallSnapshotResponse): void => {
  const pr = Replication.respondingFollower(core, from, m.term, "InstallSnapshotResponse")
  if (pr === undefined) return
  // Snapshot acks are ReadIndex evidence too: the follower answered this leader's term.
  ReadIndex.onEcho(core, pr, m.echoedRound)
  if (pr.state !== "Snapshot" || m.lastIncludedIndex !== pr.snapshotIndex) return
  if (m.nextOffset >= pr.snapshotTotal) {
    core.trace(RaftTraceEvent.InstallSnapshotAccepted({ at: core.now, from, to: core.id, lastIncludedIndex: pr.snapshotIndex }))
    const moved = pr.acknowledge(pr.snapshotIndex, core.reads.round)
    pr.becomeProbe()
    if (moved) Replication.maybeCommit(core)
    Replication.replicateTo(core, from, pr)
    return
  }
  const offset = Math.max(0, Math.min(m.nextOffset, pr.snapshotTotal))
  if (offset === pr.snapshotOffset) return
  pr.snapshotOffset = offset
  sendSnapshot(core, from, pr)
}
