/**
 * The leader's steps: log replication (§5.3) with flow control per follower (`Progress`), the
 * commit rule (§5.4.2, Figure 8), heartbeats and CheckQuorum (thesis §6.2), ReadIndex rounds
 * (thesis §6.4), snapshot streaming (§7) and the `TimeoutNow` of a leadership transfer (thesis §3.10).
 *
 * Batches are cut to the transport's payload budget; a follower in `Replicate` gets up to
 * `maxInflight` batches pipelined, one in `Probe` gets one at a time until a response locates its
 * log. Heartbeats carry no entries in `Replicate` (prev = match, which the follower is known to
 * hold), so they never cause spurious rejections of batches still in flight. Snapshot transfer is
 * stop-and-wait, one chunk in flight per follower; a heartbeat resends the current chunk.
 */
import type { AppendEntriesResponse, InstallSnapshotResponse } from "./Messages.js"
import type { NodeId } from "./Ids.js"
import type { NodeState } from "./NodeState.js"
import type { Progress } from "./Progress.js"
import { allVoters, hasQuorum, quorumIndex } from "./Quorum.js"
import type { ReadOrigin } from "./ReadIndex.js"
import { advanceCommit } from "./LocalLog.js"
import { adoptTerm, becomeFollower } from "./Roles.js"
import { chunkSize } from "./Snapshots.js"
import { timeoutNowDue } from "./Transfer.js"

// ------------------------------------------------------------------ sending the log

/**
 * Sends one AppendEntries starting at `pr.next`. Returns false when there was nothing to send
 * (and `allowEmpty` is false).
 */
const sendAppend = (s: NodeState, peer: NodeId, pr: Progress, allowEmpty: boolean): boolean => {
  const prev = pr.next - 1
  const prevTerm = s.log.termAt(prev)
  if (prevTerm === undefined) {
    // The entries this follower needs were compacted away: InstallSnapshot takes over (§7).
    if (prev < s.log.snapshotIndex) sendSnapshot(s, peer, pr)
    return false
  }
  const entries = s.log.slice(pr.next, s.cfg.maxBatchEntries, s.entryBudget(), s.entrySize)
  if (entries.length === 0 && !allowEmpty) return false
  s.send(peer, {
    _tag: "AppendEntries",
    term: s.term,
    prevLogIndex: prev,
    prevLogTerm: prevTerm,
    entries,
    leaderCommit: s.commitIndex,
    round: s.reads.round
  })
  if (entries.length > 0) {
    const last = entries[entries.length - 1]!.index
    if (pr.state === "Replicate") {
      pr.inflight.push(last)
      pr.next = last + 1
    } else {
      pr.probeSent = true
    }
  } else if (pr.state === "Probe") {
    pr.probeSent = true
  }
  return true
}

/** Sends as much as a follower's flow control allows. */
export const replicateTo = (s: NodeState, peer: NodeId, pr: Progress): void => {
  while (pr.next <= s.log.lastIndex && pr.canSend(s.cfg.maxInflight)) {
    if (!sendAppend(s, peer, pr, false)) return
    if (pr.state !== "Replicate") return
  }
}

/** End of a turn in which entries were appended: ship them to everyone. */
export const replicateAll = (s: NodeState): void => {
  for (const [peer, pr] of s.progress) replicateTo(s, peer, pr)
}

/**
 * Heartbeat tick: asserts leadership, carries the commit index, and re-probes followers whose
 * pipeline made no progress since the last tick (a lost batch would otherwise stall them).
 */
export const heartbeat = (s: NodeState): void => {
  // Every heartbeat starts a new ReadIndex round (thesis §6.4): reads queued before it are
  // confirmed by the echoes it collects.
  s.reads.nextRound()
  for (const [peer, pr] of s.progress) {
    switch (pr.state) {
      case "Probe":
        pr.probeSent = false
        sendAppend(s, peer, pr, true)
        break
      case "Replicate": {
        if (pr.inflight.length > 0 && !pr.progressed) {
          pr.becomeProbe()
          sendAppend(s, peer, pr, true)
        } else {
          sendHeartbeat(s, peer, pr)
          replicateTo(s, peer, pr)
        }
        break
      }
      case "Snapshot":
        // Resend the current chunk from the acknowledged offset (never restart the transfer).
        sendSnapshot(s, peer, pr)
        break
    }
    pr.progressed = false
  }
  maybeSendTimeoutNow(s, true)
}

/** An empty AppendEntries anchored at the follower's known match (also a ReadIndex round). */
export const sendHeartbeat = (s: NodeState, peer: NodeId, pr: Progress): void => {
  const prev = pr.match
  const prevTerm = s.log.termAt(prev)
  if (prevTerm === undefined) return
  s.send(peer, {
    _tag: "AppendEntries",
    term: s.term,
    prevLogIndex: prev,
    prevLogTerm: prevTerm,
    entries: [],
    leaderCommit: Math.min(s.commitIndex, pr.match),
    round: s.reads.round
  })
}

/**
 * Sends `peer` the chunk of our latest snapshot at its acknowledged offset, entering (or
 * switching to) a transfer of that snapshot first. Called when the follower's next entry was
 * compacted away, on every heartbeat while transferring, and on every ack that moved the offset.
 */
export const sendSnapshot = (s: NodeState, peer: NodeId, pr: Progress): void => {
  const snap = s.snapshot
  if (snap === undefined) return
  const m = snap.meta
  const total = snap.state.byteLength
  if (pr.state !== "Snapshot" || pr.snapshotIndex !== m.lastIncludedIndex) {
    // Re-entering a transfer of the same snapshot (say, after a stale rejection put the follower
    // back in Probe) resumes at the acked offset; a different snapshot starts over.
    const resume = pr.snapshotIndex === m.lastIncludedIndex && pr.snapshotTotal === total ? pr.snapshotOffset : 0
    pr.becomeSnapshot(m.lastIncludedIndex, total)
    pr.snapshotOffset = resume
  }
  const offset = pr.snapshotOffset
  const end = Math.min(total, offset + chunkSize(s.cfg.snapshotChunkCeiling, s.maxPayload, s.entrySize, snap))
  const done = end === total
  s.send(peer, {
    _tag: "InstallSnapshot",
    term: s.term,
    lastIncludedIndex: m.lastIncludedIndex,
    lastIncludedTerm: m.lastIncludedTerm,
    offset,
    totalBytes: total,
    data: snap.state.subarray(offset, end),
    done,
    config: m.config,
    round: s.reads.round
  })
  if (s.tracing) {
    s.trace({ _tag: "InstallSnapshot", at: s.now, from: s.id, to: peer, lastIncludedIndex: m.lastIncludedIndex, offset, done })
  }
}

// ------------------------------------------------------------------ followers' answers

/**
 * The part every follower response shares (AppendEntries and InstallSnapshot acks): a newer term
 * deposes us; a stale one, or one reaching a non-leader, is ignored; one from a node we track no
 * progress for is refused. Otherwise it counts as CheckQuorum contact and the progress is returned.
 */
const respondingFollower = (
  s: NodeState,
  from: NodeId,
  term: number,
  messageType: "AppendEntriesResponse" | "InstallSnapshotResponse"
): Progress | undefined => {
  if (term > s.term) {
    adoptTerm(s, term)
    becomeFollower(s, "HigherTermObserved", undefined)
    return undefined
  }
  if (s.role !== "Leader" || term < s.term) return undefined
  const pr = s.progress.get(from)
  if (pr === undefined) {
    s.refuse(from, messageType, "ResponseNotExpected")
    return undefined
  }
  pr.recentActive = true
  return pr
}

export const onAppendEntriesResponse = (s: NodeState, from: NodeId, m: AppendEntriesResponse): void => {
  const pr = respondingFollower(s, from, m.term, "AppendEntriesResponse")
  if (pr === undefined) return
  if (m.success) {
    if (m.matchIndex > s.log.lastIndex) return s.refuse(from, "AppendEntriesResponse", "AppendEntriesIndexOutOfRange")
    // A same-term answer, accepted or not, shows the follower still follows us (ReadIndex evidence).
    onEcho(s, pr, m.echoedRound)
    const moved = pr.acknowledge(m.matchIndex, s.reads.round)
    if (pr.state === "Probe") pr.becomeReplicate()
    if (moved) maybeCommit(s)
    replicateTo(s, from, pr)
    if (moved && s.transfer?.target === from) maybeSendTimeoutNow(s, false)
    return
  }
  onEcho(s, pr, m.echoedRound)
  // A rejection of something the follower already proved it holds is stale (reordered or
  // duplicated) — unless it answers a frame sent after that proof arrived: then the follower lost
  // entries it acknowledged (its storage broke the contract), and without lowering `match` every
  // heartbeat (anchored at `match`) would be refused forever and the follower never repaired under
  // this leader (etcd-io/raft #25). An echo above our current round is not genuine. A rejection
  // of anything but our outstanding probe is stale too.
  const lost = m.echoedRound <= s.reads.round && pr.revealsLostEntries(m.rejectedIndex, m.echoedRound)
  if (m.rejectedIndex <= pr.match && !lost) return
  if (pr.state === "Probe" && m.rejectedIndex !== pr.next - 1) return
  s.trace({ _tag: "AppendEntriesRejected", at: s.now, from, to: s.id, conflictIndex: m.conflictIndex, conflictTerm: m.conflictTerm })
  // §5.3 fast backup: skip the follower's whole conflicting term at once.
  let next = m.conflictIndex
  if (m.conflictTerm > 0) {
    const ours = s.log.lastIndexOfTerm(m.conflictTerm)
    if (ours > 0) next = ours + 1
  }
  // Back to Probe from the follower's hint: its last index + 1 when its log is too short.
  if (lost) pr.forgetMatch()
  pr.becomeProbe()
  pr.next = Math.max(pr.match + 1, Math.min(next, m.rejectedIndex))
  sendAppend(s, from, pr, true)
}

/**
 * A follower's snapshot ack: the bytes it holds of the snapshot at `lastIncludedIndex`. All of
 * them: it is credited `matchIndex = lastIncludedIndex` and AppendEntries resume. Fewer: resume
 * from there (clamped to the snapshot's size). The same offset again: wait for the heartbeat to
 * resend, so one chunk stays in flight. Any ack counts as CheckQuorum contact and ReadIndex evidence.
 */
export const onInstallSnapshotResponse = (s: NodeState, from: NodeId, m: InstallSnapshotResponse): void => {
  const pr = respondingFollower(s, from, m.term, "InstallSnapshotResponse")
  if (pr === undefined) return
  onEcho(s, pr, m.echoedRound)
  if (pr.state !== "Snapshot" || m.lastIncludedIndex !== pr.snapshotIndex) return
  if (m.nextOffset >= pr.snapshotTotal) {
    s.trace({ _tag: "InstallSnapshotAccepted", at: s.now, from, to: s.id, lastIncludedIndex: pr.snapshotIndex })
    const moved = pr.acknowledge(pr.snapshotIndex, s.reads.round)
    pr.becomeProbe()
    if (moved) maybeCommit(s)
    replicateTo(s, from, pr)
    return
  }
  const offset = Math.max(0, Math.min(m.nextOffset, pr.snapshotTotal))
  if (offset === pr.snapshotOffset) return
  pr.snapshotOffset = offset
  sendSnapshot(s, from, pr)
}

/**
 * Advances commit to the quorum-matched index, but only through an entry of the current term
 * (Figure 8, bug class B1): an older entry is committed indirectly, never by counting replicas.
 */
export const maybeCommit = (s: NodeState): void => {
  const idx = quorumIndex(s.config, (id) => (id === s.id ? s.durableLast : s.progress.get(id)?.match ?? 0))
  if (idx > s.commitIndex && s.log.termAt(idx) === s.term) advanceCommit(s, idx)
}

/** CheckQuorum: a leader that has not heard from a quorum within an election timeout steps down. */
export const checkQuorum = (s: NodeState): void => {
  const heard = (id: NodeId) => id === s.id || s.progress.get(id)?.recentActive === true
  const ok = hasQuorum(s.config, heard)
  for (const voter of allVoters(s.config)) {
    const pr = s.progress.get(voter)
    if (pr !== undefined) pr.recentActive = false
  }
  if (!ok) {
    // Same term: stepping down for lost contact is not evidence of a newer leader.
    becomeFollower(s, "LostQuorum", undefined)
    return
  }
  s.checkQuorumDeadline = s.now + s.rng.between(s.cfg.electionTimeoutMin, s.cfg.electionTimeoutMax)
}

// ------------------------------------------------------------------ reads and transfers

/** A follower answered at our term with `echoedRound`: new evidence may confirm queued reads. */
const onEcho = (s: NodeState, pr: Progress, echoedRound: number): void => {
  if (!s.reads.echo(pr, echoedRound)) return
  const done = s.reads.takeConfirmed(s.config, s.id, s.progress)
  if (done === undefined) return
  for (const q of done) answerRead(s, q.origin, q.index)
  s.trace({ _tag: "ReadIndexConfirmed", at: s.now, node: s.id, readIndex: done[done.length - 1]!.index, term: s.term })
}

/** Answers a confirmed read with its index: a local caller, or a follower's fence request. */
export const answerRead = (s: NodeState, origin: ReadOrigin, index: number): void => {
  switch (origin._tag) {
    case "Local":
      s.ready.resolutions.push({ handle: origin.handle, outcome: { _tag: "Read", index } })
      return
    case "Remote":
      s.send(origin.from, { _tag: "ReadIndexResponse", requestId: origin.requestId, outcome: { _tag: "Fence", index } })
      return
  }
}

/** Sends `TimeoutNow` once the transfer's target holds our whole log (`resend`: a heartbeat repeats it). */
export const maybeSendTimeoutNow = (s: NodeState, resend: boolean): void => {
  const t = s.transfer
  if (!timeoutNowDue(t, s.role, s.term, t === undefined ? undefined : s.progress.get(t.target), s.log.lastIndex, resend)) return
  t.timeoutNowSent = true
  s.send(t.target, { _tag: "TimeoutNow", term: s.term })
}
