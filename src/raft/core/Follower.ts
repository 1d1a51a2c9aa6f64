/**
 * The steps of a follower (or learner) receiving what a leader sends: AppendEntries (§5.3
 * receiver rules 1–5), InstallSnapshot (§7 receiver rules, chunked as `Leader` sends it) and the
 * `TimeoutNow` of a leadership transfer (thesis §3.10).
 *
 * Every leader-authored frame goes through the same door: first what the frame itself proves
 * impossible, then the §5.1 term rule and the one-leader-per-term pin (`checkLeaderFrame`), then
 * what our committed log disproves — a refused frame is never applied, not even in part, and never
 * moves our term, pin or lease — and only then the follower-side effects of hearing from a live
 * leader (`acceptLeaderContact`: term adoption, the pin, stepping down from candidacy, the
 * stickiness lease of thesis §4.2.3, the election timer).
 */
import type { ConfigPayload } from "./Entries.js"
import type { NodeId } from "./Ids.js"
import type { AppendEntries, InstallSnapshot, TimeoutNow } from "./Messages.js"
import type { NodeState } from "./NodeState.js"
import { advanceCommit, appendFollower, persistSnapshot, recomputeConfig, truncateFrom } from "./LocalLog.js"
import { adoptTerm, becomeFollower, campaign, resetElectionTimer } from "./Roles.js"
import { contradictsCommitted, frameProblem, takeChunk } from "./SnapshotReceive.js"
import type { Reassembly } from "./SnapshotReceive.js"
import { timeoutNowRefusal } from "./Transfer.js"

const MAX_INDEX = Number.MAX_SAFE_INTEGER

/**
 * `Stale`: the frame's term is below ours; answer with our term (rule 1) and change nothing.
 * `Refused`: it claims a term that already has another leader (traced as `ForgedLeaderForTerm`).
 * `Accept`: go on, then call `acceptLeaderContact`.
 */
type LeaderFrameVerdict = "Stale" | "Refused" | "Accept"

/** Checks a frame's claim to come from the leader of `term`; refusals are traced here. */
const checkLeaderFrame = (s: NodeState, from: NodeId, term: number, type: "AppendEntries" | "InstallSnapshot"): LeaderFrameVerdict => {
  if (term < s.term) return "Stale"
  if (term === s.term && s.role === "Leader") {
    // Two leaders in one term is impossible among correct nodes: refuse, never obey.
    s.refuse(from, type, "ForgedLeaderForTerm")
    return "Refused"
  }
  if (s.leaderForTerm !== null && s.leaderForTerm.term === term && s.leaderForTerm.leaderId !== from) {
    s.refuse(from, type, "ForgedLeaderForTerm")
    return "Refused"
  }
  return "Accept"
}

/** Records contact from `from`, the leader of `term` (which `checkLeaderFrame` accepted). */
const acceptLeaderContact = (s: NodeState, from: NodeId, term: number): void => {
  if (term > s.term) adoptTerm(s, term)
  if (s.leaderForTerm === null || s.leaderForTerm.term !== term) {
    s.leaderForTerm = { term, leaderId: from }
    s.ready.persist.leaderForTerm = s.leaderForTerm
  }
  if (s.role === "Candidate" || s.preVote !== undefined || s.leader !== from) {
    becomeFollower(s, "AppendEntriesFromLeader", from)
  }
  s.leader = from
  s.leaderContactAt = s.now
  s.wedge.contact()
  resetElectionTimer(s)
  // A leader-authored frame from a transfer's target at a newer term completes it (thesis §3.10).
  const t = s.transfer
  if (t !== undefined && from === t.target && term > t.term) {
    s.transfer = undefined
    s.ready.resolutions.push({ handle: t.handle, outcome: { _tag: "Transferred" } })
  }
}

// ------------------------------------------------------------------ AppendEntries

export const onAppendEntries = (s: NodeState, from: NodeId, m: AppendEntries): void => {
  // Batch plausibility, before any state changes.
  const n = m.entries.length
  if (m.prevLogIndex + n > MAX_INDEX) return s.refuse(from, "AppendEntries", "AppendEntriesIndexOutOfRange")
  let lastTerm = m.prevLogTerm
  for (let i = 0; i < n; i++) {
    const e = m.entries[i]!
    if (e.index !== m.prevLogIndex + 1 + i) return s.refuse(from, "AppendEntries", "AppendEntriesNonContiguousBatch")
    if (e.term > m.term || e.term < lastTerm) return s.refuse(from, "AppendEntries", "AppendEntriesEntryTermOutOfRange")
    lastTerm = e.term
  }
  if (m.prevLogTerm > m.term) return s.refuse(from, "AppendEntries", "AppendEntriesEntryTermOutOfRange")

  const verdict = checkLeaderFrame(s, from, m.term, "AppendEntries")
  if (verdict === "Stale") {
    // Rule 1: a stale leader learns our term from the reply. Round 0: we confirm nothing for it.
    return reply(s, from, false, 0, m.prevLogIndex, 0, 0, 0)
  }
  if (verdict === "Refused") return
  // A frame that would rewrite a committed entry lies: a leader of our term or a newer one holds
  // every committed entry (Leader Completeness, §5.4.3). Refuse it before it can move our term,
  // leader pin or lease. (A stale-term frame may legitimately disagree with our commits; rule 1
  // above already answered it.)
  const committedEnd = Math.min(s.commitIndex, s.log.lastIndex)
  for (let i = 0; i < n && m.entries[i]!.index <= committedEnd; i++) {
    const e = m.entries[i]!
    const existing = s.log.termAt(e.index)
    if (existing !== undefined && existing !== e.term) return s.refuse(from, "AppendEntries", "AppendEntriesEntryTermOutOfRange")
  }
  acceptLeaderContact(s, from, m.term)
  s.wedge.accepted(m.leaderCommit)

  const log = s.log
  // Rule 2: the consistency check.
  if (m.prevLogIndex > log.lastIndex) {
    // A same-term rejection still acknowledges this leader: echo its ReadIndex round (§6.4).
    return reply(s, from, false, 0, m.prevLogIndex, log.lastIndex + 1, 0, m.round)
  }
  let start = 0
  if (m.prevLogIndex < log.snapshotIndex) {
    // Entries at or below our snapshot are committed, hence identical (Log Matching): skip them.
    start = Math.min(n, log.snapshotIndex - m.prevLogIndex)
  } else {
    const t = log.termAt(m.prevLogIndex)!
    if (t !== m.prevLogTerm) {
      return reply(s, from, false, 0, m.prevLogIndex, log.firstIndexOfTermEndingAt(m.prevLogIndex), t, m.round)
    }
  }
  // Rules 3–4: skip identical entries, truncate at the first conflict, append the rest.
  for (let i = start; i < n; i++) {
    const e = m.entries[i]!
    const existing = log.termAt(e.index)
    if (existing === e.term) continue
    if (existing !== undefined) {
      if (e.index <= s.commitIndex) {
        // Overwriting a committed entry would break State Machine Safety; such a frame lies.
        // (Caught before any state change above; kept as the last line of defence.)
        return s.refuse(from, "AppendEntries", "AppendEntriesEntryTermOutOfRange")
      }
      truncateFrom(s, e.index)
    }
    appendFollower(s, i === 0 ? m.entries : m.entries.slice(i))
    break
  }
  const matchIndex = m.prevLogIndex + n
  // Rule 5, forward only: commit what the leader committed AND we now hold from it.
  const commit = Math.min(m.leaderCommit, matchIndex)
  if (commit > s.commitIndex) advanceCommit(s, commit)
  reply(s, from, true, matchIndex, 0, 0, 0, m.round)
}

const reply = (
  s: NodeState,
  to: NodeId,
  success: boolean,
  matchIndex: number,
  rejectedIndex: number,
  conflictIndex: number,
  conflictTerm: number,
  echoedRound: number
): void => {
  s.send(to, { _tag: "AppendEntriesResponse", term: s.term, success, matchIndex, rejectedIndex, conflictIndex, conflictTerm, echoedRound })
}

// ------------------------------------------------------------------ InstallSnapshot

export const onInstallSnapshot = (s: NodeState, from: NodeId, m: InstallSnapshot): void => {
  const problem = frameProblem(m)
  if (problem !== undefined) return s.refuse(from, "InstallSnapshot", problem)
  const verdict = checkLeaderFrame(s, from, m.term, "InstallSnapshot")
  if (verdict === "Stale") return snapshotReply(s, from, m.lastIncludedIndex, 0, 0)
  if (verdict === "Refused") return
  if (contradictsCommitted(s.log, s.commitIndex, m.lastIncludedIndex, m.lastIncludedTerm)) {
    return s.refuse(from, "InstallSnapshot", "InstallSnapshotBelowCommittedTermFloor")
  }
  acceptLeaderContact(s, from, m.term)

  if (m.lastIncludedIndex <= s.commitIndex) {
    // We already hold (committed) everything it covers: acknowledge it whole, install nothing.
    if (s.reassembly?.index === m.lastIncludedIndex) s.reassembly = undefined
    return snapshotReply(s, from, m.lastIncludedIndex, m.totalBytes, m.round)
  }
  const ceiling = s.cfg.snapshotTotalCeiling
  if (m.totalBytes > ceiling) {
    // Too large to reassemble: discard what we hold of it and advertise nothing.
    if (s.reassembly?.index === m.lastIncludedIndex) s.reassembly = undefined
    s.metric({ _tag: "SnapshotRejectedSizeCeiling", attemptedTotal: m.totalBytes, ceiling })
    s.trace({
      _tag: "SnapshotRejected",
      at: s.now,
      node: s.id,
      from,
      lastIncludedIndex: m.lastIncludedIndex,
      attemptedTotal: m.totalBytes,
      ceiling
    })
    return snapshotReply(s, from, m.lastIncludedIndex, 0, m.round)
  }
  const taken = takeChunk(s.reassembly, m)
  s.reassembly = taken.reassembly
  if (taken.complete) install(s, taken.reassembly!, m.config)
  snapshotReply(s, from, m.lastIncludedIndex, taken.held, m.round)
}

const install = (s: NodeState, r: Reassembly, config: ConfigPayload): void => {
  s.reassembly = undefined
  const stored = { meta: { lastIncludedIndex: r.index, lastIncludedTerm: r.term, config }, state: r.buffer }
  // Rule 6: an entry at the snapshot's index with the snapshot's term means the log after it is
  // the leader's too (Log Matching): keep it. Rule 7: otherwise discard the whole log.
  persistSnapshot(s, stored, s.log.termAt(r.index) === r.term)
  advanceCommit(s, r.index)
  // The consumer replaces its state with the snapshot, then applies what commits after it.
  s.ready.install = stored
  s.lastEmitted = r.index
  recomputeConfig(s)
}

const snapshotReply = (s: NodeState, to: NodeId, lastIncludedIndex: number, nextOffset: number, echoedRound: number): void => {
  s.send(to, { _tag: "InstallSnapshotResponse", term: s.term, lastIncludedIndex, nextOffset, echoedRound })
}

// ------------------------------------------------------------------ TimeoutNow

/**
 * The transfer target's side: gates in the original's order, then an immediate election with
 * `leadershipTransfer` set (no PreVote: the leader itself asked for it).
 */
export const onTimeoutNow = (s: NodeState, from: NodeId, m: TimeoutNow): void => {
  const refusal = timeoutNowRefusal(s, from, m)
  if (refusal !== undefined) return s.refuse(from, "TimeoutNow", refusal)
  campaign(s, true)
}
