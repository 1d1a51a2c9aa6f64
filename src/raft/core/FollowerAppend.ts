/**
 * A follower (or learner) receiving AppendEntries (§5.3 receiver rules 1–5).
 *
 * Every frame is first checked against what this node can disprove locally (a batch that is not
 * contiguous, entry terms above the frame's term, a second leader claiming a term we already
 * pinned to another): such frames are refused and traced, never applied. Then the §5.3
 * consistency check, truncation of a conflicting suffix (never of a committed entry), append, and
 * a commit index that only moves forward.
 */
import type { AppendEntries } from "../../codec/raft/RaftMessage.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { acceptLeaderContact, checkLeaderFrame } from "./LeaderContact.js"
import type { RaftCore } from "./RaftCore.js"
import { advanceCommit, appendFollower, truncateFrom } from "./LocalLog.js"
import { onLeaderFrameAccepted } from "./Wedge.js"

const MAX_INDEX = Number.MAX_SAFE_INTEGER

export const onAppendEntries = (core: RaftCore, from: NodeId, m: AppendEntries): void => {
  // Batch plausibility, before any state changes.
  const n = m.entries.length
  if (m.prevLogIndex + n > MAX_INDEX) return core.refuse(from, "AppendEntries", "AppendEntriesIndexOutOfRange")
  let lastTerm = m.prevLogTerm
  for (let i = 0; i < n; i++) {
    const e = m.entries[i]!
    if (e.index !== m.prevLogIndex + 1 + i) return core.refuse(from, "AppendEntries", "AppendEntriesNonContiguousBatch")
    if (e.term > m.term || e.term < lastTerm) return core.refuse(from, "AppendEntries", "AppendEntriesEntryTermOutOfRange")
    lastTerm = e.term
  }
  if (m.prevLogTerm > m.term) return core.refuse(from, "AppendEntries", "AppendEntriesEntryTermOutOfRange")

  const verdict = checkLeaderFrame(core, from, m.term, "AppendEntries")
  if (verdict === "Stale") {
    // Rule 1: a stale leader learns our term from the reply. Round 0: we confirm nothing for it.
    return reply(core, from, false, 0, m.prevLogIndex, 0, 0, 0)
  }
  if (verdict === "Refused") return
  // A frame that would rewrite a committed entry lies: a leader of our term or a newer one holds
  // every committed entry (Leader Completeness, §5.4.3). Refuse it before it can move our term,
  // leader pin or lease — a refused frame is never applied, not even in part. (A stale-term frame
  // may legitimately disagree with our commits; rule 1 above already answered it.)
  const committedEnd = Math.min(core.commitIndex, core.log.lastIndex)
  for (let i = 0; i < n && m.entries[i]!.index <= committedEnd; i++) {
    const e = m.entries[i]!
    const existing = core.log.termAt(e.index)
    if (existing !== undefined && existing !== e.term) return core.refuse(from, "AppendEntries", "AppendEntriesEntryTermOutOfRange")
  }
  acceptLeaderContact(core, from, m.term)
  onLeaderFrameAccepted(core, m.leaderCommit)

  const log = core.log
  // Rule 2: the consistency check.
  if (m.prevLogIndex > log.lastIndex) {
    // A same-term rejection still acknowledges this leader: echo its ReadIndex round (§6.4).
    return reply(core, from, false, 0, m.prevLogIndex, log.lastIndex + 1, 0, m.round)
  }
  let start = 0
  if (m.prevLogIndex < log.snapshotIndex) {
    // Entries at or below our snapshot are committed, hence identical (Log Matching): skip them.
    start = Math.min(n, log.snapshotIndex - m.prevLogIndex)
  } else {
    const t = log.termAt(m.prevLogIndex)!
    if (t !== m.prevLogTerm) {
      return reply(core, from, false, 0, m.prevLogIndex, log.firstIndexOfTermEndingAt(m.prevLogIndex), t, m.round)
    }
  }
  // Rules 3–4: skip identical entries, truncate at the first conflict, append the rest.
  for (let i = start; i < n; i++) {
    const e = m.entries[i]!
    const existing = log.termAt(e.index)
    if (existing === e.term) continue
    if (existing !== undefined) {
      if (e.index <= core.commitIndex) {
        // Overwriting a committed entry would break State Machine Safety; such a frame lies.
        // (Caught before any state change above; kept as the last line of defence.)
        return core.refuse(from, "AppendEntries", "AppendEntriesEntryTermOutOfRange")
      }
      truncateFrom(core, e.index)
    }
    appendFollower(core, i === 0 ? m.entries : m.entries.slice(i))
    break
  }
  const matchIndex = m.prevLogIndex + n
  // Rule 5, forward only: commit what the leader committed AND we now hold from it.
  const commit = Math.min(m.leaderCommit, matchIndex)
  if (commit > core.commitIndex) advanceCommit(core, commit)
  reply(core, from, true, matchIndex, 0, 0, 0, m.round)
}

const reply = (
  core: RaftCore,
  to: NodeId,
  success: boolean,
  matchIndex: number,
  rejectedIndex: number,
  conflictIndex: number,
  conflictTerm: number,
  echoedRound: number
): void => {
  core.send(to, {
    _tag: "AppendEntriesResponse",
    term: core.term,
    success,
    matchIndex,
    rejectedIndex,
    conflictIndex,
    conflictTerm,
    echoedRound
  })
}
