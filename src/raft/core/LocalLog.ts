/**
 * Changes to this node's own log and what follows from them, applied to the node's state: appends
 * (as leader or follower), truncation of an uncommitted suffix, snapshots replacing a prefix (§7),
 * the membership in force (the latest config entry in the log, else the snapshot's, else
 * bootstrap — §6 "effective membership"), and the commit index, which only moves forward and whose
 * entries go to the consumer through `Ready.committed` (answering the leader's proposers as they do).
 */
import * as DedupCache from "./DedupCache.js"
import type { StoredSnapshot } from "./Durable.js"
import type { CommandEntry, ConfigPayload, LogEntry } from "./Entries.js"
import type { ProposalOrigin } from "./DedupCache.js"
import type { NodeState } from "./NodeState.js"
import { Progress } from "./Progress.js"
import { allReplicas } from "./Quorum.js"
import { becomeFollower, resetElectionTimer } from "./Roles.js"

/** Appends one entry as leader (durable at the end of the turn, replicated at takeReady). */
export const appendLocal = (s: NodeState, entry: LogEntry): void => {
  s.log.appendOne(entry)
  s.ready.persist.append.push(entry)
  if (entry._tag === "Config") adoptConfig(s, entry.config, entry.index)
  s.dirty = true
}

/** Appends a follower batch that continues the log exactly. */
export const appendFollower = (s: NodeState, entries: ReadonlyArray<LogEntry>): void => {
  s.log.append(entries)
  for (const e of entries) {
    s.ready.persist.append.push(e)
    if (e._tag === "Config") adoptConfig(s, e.config, e.index)
  }
}

/** Removes an uncommitted suffix; a config entry in it rolls back (§6, "effective membership"). */
export const truncateFrom = (s: NodeState, index: number): void => {
  s.log.truncateFrom(index)
  s.ready.truncate(index)
  if (s.durableLast >= index) s.durableLast = index - 1
  if (s.configIndex >= index) recomputeConfig(s)
}

/**
 * Makes `stored` the node's snapshot: in memory, and in this turn's storage batch (snapshot
 * first, then the prefix discard). `keepSuffix`: the log above the snapshot stays (its entry at
 * `lastIncludedIndex` matches); otherwise the whole log is wiped (§7 receiver rules 6–7).
 */
export const persistSnapshot = (s: NodeState, stored: StoredSnapshot, keepSuffix: boolean): void => {
  const { lastIncludedIndex: index, lastIncludedTerm: term } = stored.meta
  const p = s.ready.persist
  p.snapshot = stored
  if (keepSuffix) {
    s.log.compact(index, term)
    // Entries appended earlier this turn that the snapshot now covers must not be written: the
    // storage expects an append after a snapshot beyond its log to start at `index + 1`.
    if (p.append.length > 0 && p.append[0]!.index <= index) p.append = p.append.filter((e) => e.index > index)
  } else {
    s.log.reset(index, term)
    s.ready.truncate(1)
    if (s.durableLast > index) s.durableLast = index
  }
  p.discardThrough = Math.max(p.discardThrough ?? 0, index)
  s.snapshot = stored
  s.snapshotConfig = stored.meta.config
}

export const adoptConfig = (s: NodeState, config: ConfigPayload, index: number): void => {
  const changed = config !== s.config
  s.config = config
  s.configIndex = index
  if (changed) onConfigAdopted(s)
}

/** Re-derives membership from the log, then the snapshot, then bootstrap. */
export const recomputeConfig = (s: NodeState): void => {
  for (let i = s.log.lastIndex; i > s.log.snapshotIndex; i--) {
    const e = s.log.entry(i)!
    if (e._tag === "Config") return adoptConfig(s, e.config, i)
  }
  adoptConfig(s, s.snapshotConfig ?? s.bootstrap, s.snapshotConfig !== undefined ? s.log.snapshotIndex : 0)
}

/**
 * The membership in force changed (append, install or rollback): trace it, keep a leader's
 * progress map in step (new members probed from the end of the log, departed ones dropped), and
 * move a non-leader between Follower and Learner.
 */
const onConfigAdopted = (s: NodeState): void => {
  const c = s.config
  s.trace({ _tag: "ConfigChange", at: s.now, node: s.id, index: s.configIndex, old: c.old, new: c.new })
  if (s.role === "Leader") {
    const members = allReplicas(c)
    for (const id of members) {
      if (id !== s.id && !s.progress.has(id)) s.progress.set(id, new Progress(Math.max(1, s.log.lastIndex)))
    }
    for (const id of [...s.progress.keys()]) if (!members.has(id)) s.progress.delete(id)
    return
  }
  const voter = s.isVoter
  if (s.role === "Learner" && voter) {
    // Promoted: a full election timeout before it may campaign.
    s.role = "Follower"
    resetElectionTimer(s)
  } else if (s.role !== "Learner" && !voter) {
    // Demoted or removed (or a rollback undid a promotion): never campaign again under this config.
    if (s.role === "Candidate" || s.preVote !== undefined) becomeFollower(s, "RemovedFromConfig", s.leader)
    else s.role = "Learner"
  }
}

/** Moves the commit index forward (never back). */
export const advanceCommit = (s: NodeState, index: number): void => {
  if (index <= s.commitIndex) return
  if (s.tracing) s.trace({ _tag: "AdvanceCommitIndex", at: s.now, node: s.id, old: s.commitIndex, new: index })
  s.commitIndex = index
}

/** Hands the consumer every committed entry it has not seen, in order (held entries only). */
export const emitCommitted = (s: NodeState): void => {
  const upTo = Math.min(s.commitIndex, s.log.lastIndex)
  if (upTo <= s.lastEmitted) return
  for (const entry of s.log.range(s.lastEmitted + 1, upTo)) {
    s.ready.committed.push(entry)
    checkCollision(s, entry)
    if (s.role === "Leader" && entry._tag === "Command") answerCommitted(s, entry)
  }
  s.lastEmitted = upTo
}

/** A committed entry under our client id that we did not issue: history, or a second writer (`DedupCache`). */
const checkCollision = (s: NodeState, entry: LogEntry): void => {
  switch (DedupCache.checkCollision(s.collisions, s.clientId, s.serial, entry)) {
    case undefined:
    case "Fatal":
      return
    case "History":
      s.serial = (entry as CommandEntry).dedupKey.requestId
      return
    case "Remint": {
      const previous = s.clientId
      s.clientId = DedupCache.mintAutoId(s.id, s.rng)
      s.serial = 0
      s.trace({ _tag: "ClientIdReminted", at: s.now, node: s.id, previous, next: s.clientId })
      return
    }
  }
}

/** The leader committed `entry`: answer whoever proposed it (retries attached to it first). */
const answerCommitted = (s: NodeState, entry: CommandEntry): void => {
  const waiting = DedupCache.recordCommitted(s.dedup, entry)
  if (waiting !== undefined) for (const origin of waiting) answerProposal(s, origin, entry)
  const local = s.pendingLocal.get(entry.index)
  if (local !== undefined) {
    s.pendingLocal.delete(entry.index)
    s.ready.resolutions.push({ handle: local, outcome: { _tag: "Proposed", entry } })
    return
  }
  const fwd = s.pendingForwarded.get(entry.index)
  if (fwd !== undefined) {
    s.pendingForwarded.delete(entry.index)
    s.send(fwd.from, {
      _tag: "ForwardResponse",
      clientRequestId: fwd.clientRequestId,
      outcome: { _tag: "Committed", index: entry.index, term: entry.term }
    })
  }
}

/** Answers a proposer with the entry committed for its key: a local caller, or a peer's forward. */
export const answerProposal = (s: NodeState, origin: ProposalOrigin, entry: CommandEntry): void => {
  if ("local" in origin) {
    s.ready.resolutions.push({ handle: origin.local, outcome: { _tag: "Proposed", entry } })
  } else {
    s.send(origin.from, {
      _tag: "ForwardResponse",
      clientRequestId: origin.clientRequestId,
      outcome: { _tag: "Committed", index: entry.index, term: entry.term }
    })
  }
}
