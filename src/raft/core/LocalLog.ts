/**
 * Changes to this node's own log and what follows from them: appends (as leader or follower),
 * truncation of an uncommitted suffix, the membership in force (the latest config entry in the
 * log, else the snapshot's, else bootstrap — §6 "effective membership"), and the commit index,
 * which only moves forward and whose entries go to the consumer through `Ready.committed`.
 */
import type { ConfigPayload } from "./Entries.js"
import type { LogEntry } from "./Entries.js"
import * as DedupCache from "./DedupCache.js"
import * as Forwarding from "./Forwarding.js"
import * as Membership from "./Membership.js"
import type { RaftCore } from "./RaftCore.js"


/** Appends one entry as leader (durable at the end of the turn, replicated at takeReady). */
export const appendLocal = (core: RaftCore, entry: LogEntry): void => {
  core.log.appendOne(entry)
  core.ready.persist.append.push(entry)
  if (entry._tag === "Config") adoptConfig(core, entry.config, entry.index)
  core.dirty = true
}

/** Appends a follower batch that continues the log exactly. */
export const appendFollower = (core: RaftCore, entries: ReadonlyArray<LogEntry>): void => {
  core.log.append(entries)
  for (const e of entries) {
    core.ready.persist.append.push(e)
    if (e._tag === "Config") adoptConfig(core, e.config, e.index)
  }
}

/** Removes an uncommitted suffix; a config entry in it rolls back (§6, "effective membership"). */
export const truncateFrom = (core: RaftCore, index: number): void => {
  core.log.truncateFrom(index)
  core.ready.truncate(index)
  if (core.durableLast >= index) core.durableLast = index - 1
  if (core.configIndex >= index) recomputeConfig(core)
}

export const adoptConfig = (core: RaftCore, config: ConfigPayload, index: number): void => {
  const changed = config !== core.config
  core.config = config
  core.configIndex = index
  if (changed) Membership.onConfigAdopted(core)
}

/** Re-derives membership from the log, then the snapshot, then bootstrap. */
export const recomputeConfig = (core: RaftCore): void => {
  for (let i = core.log.lastIndex; i > core.log.snapshotIndex; i--) {
    const e = core.log.entry(i)!
    if (e._tag === "Config") return adoptConfig(core, e.config, i)
  }
  adoptConfig(core, core.snapshotConfig ?? core.bootstrap, core.snapshotConfig !== undefined ? core.log.snapshotIndex : 0)
}

/** Moves the commit index forward (never back). */
export const advanceCommit = (core: RaftCore, index: number): void => {
  if (index <= core.commitIndex) return
  if (core.tracing) core.trace({ _tag: "AdvanceCommitIndex", at: core.now, node: core.id, old: core.commitIndex, new: index })
  core.commitIndex = index
}

/** Hands the consumer every committed entry it has not seen, in order (held entries only). */
export const emitCommitted = (core: RaftCore): void => {
  const upTo = Math.min(core.commitIndex, core.log.lastIndex)
  if (upTo <= core.lastEmitted) return
  for (const entry of core.log.range(core.lastEmitted + 1, upTo)) {
    core.ready.committed.push(entry)
    DedupCache.checkCollision(core, entry)
    if (core.role === "Leader") Forwarding.onLeaderCommitted(core, entry)
  }
  core.lastEmitted = upTo
}
