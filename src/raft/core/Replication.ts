/**
 * The leader's side of log replication (§5.3), commitment (§5.4.2, Figure 8) and CheckQuorum
 * (thesis §6.2).
 *
 * Batches are cut to the transport's payload budget; a follower in `Replicate` gets up to
 * `maxInflight` batches pipelined, one in `Probe` gets one at a time until a response locates its
 * log. Heartbeats carry no entries in `Replicate` (prev = match, which the follower is known to
 * hold), so they never cause spurious rejections of batches still in flight.
 */
import type { AppendEntriesResponse } from "./Messages.js"
import type { NodeId } from "./Ids.js"
import type { StepDownReason } from "./Events.js"
import type { Progress } from "./Progress.js"
import * as DedupCache from "./DedupCache.js"
import { allVoters, hasQuorum, quorumIndex } from "./Quorum.js"
import type { RaftCore } from "./RaftCore.js"
import { advanceCommit } from "./LocalLog.js"
import { adoptTerm, becomeFollower } from "./Roles.js"
import * as ReadIndex from "./ReadIndex.js"
import * as Transfer from "./Transfer.js"
import * as Snapshots from "./Snapshots.js"

/**
 * Sends one AppendEntries starting at `pr.next`. Returns false when there was nothing to send
 * (and `allowEmpty` is false).
 */
const sendAppend = (core: RaftCore, peer: NodeId, pr: Progress, allowEmpty: boolean): boolean => {
  const prev = pr.next - 1
  const prevTerm = core.log.termAt(prev)
  if (prevTerm === undefined) {
    // The entries this follower needs were compacted away: InstallSnapshot takes over (§7).
    if (prev < core.log.snapshotIndex) Snapshots.sendSnapshot(core, peer, pr)
    return false
  }
  const entries = core.log.slice(pr.next, core.cfg.maxBatchEntries, core.entryBudget(), core.entrySize)
  if (entries.length === 0 && !allowEmpty) return false
  core.send(peer, {
    _tag: "AppendEntries",
    term: core.term,
    prevLogIndex: prev,
    prevLogTerm: prevTerm,
    entries,
    leaderCommit: core.commitIndex,
    round: core.reads.round
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

/** Sends as much as each follower's flow control allows. */
const fill = (core: RaftCore, peer: NodeId, pr: Progress): void => {
  while (pr.next <= core.log.lastIndex && pr.canSend(core.cfg.maxInflight)) {
    if (!sendAppend(core, peer, pr, false)) return
    if (pr.state !== "Replicate") return
  }
}

/** Sends one follower as much as its flow control allows (after its snapshot transfer completed). */
export const replicateTo = (core: RaftCore, peer: NodeId, pr: Progress): void => fill(core, peer, pr)

/** End of a turn in which entries were appended: ship them to everyone. */
export const replicateAll = (core: RaftCore): void => {
  for (const [peer, pr] of core.progress) fill(core, peer, pr)
}

/**
 * Heartbeat tick: asserts leadership, carries the commit index, and re-probes followers whose
 * pipeline made no progress since the last tick (a lost batch would otherwise stall them).
 */
export const heartbeat = (core: RaftCore): void => {
  // Every heartbeat starts a new ReadIndex round (thesis §6.4): reads queued before it are
  // confirmed by the echoes it collects.
  ReadIndex.nextRound(core)
  for (const [peer, pr] of core.progress) {
    switch (pr.state) {
      case "Probe":
        pr.probeSent = false
        sendAppend(core, peer, pr, true)
        break
      case "Replicate": {
        if (pr.inflight.length > 0 && !pr.progressed) {
          pr.becomeProbe()
          sendAppend(core, peer, pr, true)
        } else {
          sendHeartbeat(core, peer, pr)
          fill(core, peer, pr)
        }
        break
      }
      case "Snapshot":
        // Resend the current chunk from the acknowledged offset (never restart the transfer).
        Snapshots.sendSnapshot(core, peer, pr)
        break
    }
    pr.progressed = false
  }
  Transfer.onHeartbeat(core)
}

/** An empty AppendEntries anchored at the follower's known match (also a ReadIndex round). */
export const sendHeartbeat = (core: RaftCore, peer: NodeId, pr: Progress): void => {
  const prev = pr.match
  const prevTerm = core.log.termAt(prev)
  if (prevTerm === undefined) return
  core.send(peer, {
    _tag: "AppendEntries",
    term: core.term,
    prevLogIndex: prev,
    prevLogTerm: prevTerm,
    entries: [],
    leaderCommit: Math.min(core.commitIndex, pr.match),
    round: core.reads.round
  })
}

/**
 * The part every follower response shares (AppendEntries and InstallSnapshot acks): a newer term
 * deposes us; a stale one, or one reaching a non-leader, is ignored; one from a node we track no
 * progress for is refused. Otherwise it counts as CheckQuorum contact and the progress is returned.
 */
export const respondingFollower = (
  core: RaftCore,
  from: NodeId,
  term: number,
  messageType: "AppendEntriesResponse" | "InstallSnapshotResponse"
): Progress | undefined => {
  if (term > core.term) {
    adoptTerm(core, term)
    becomeFollower(core, "HigherTermObserved", undefined)
    return undefined
  }
  if (core.role !== "Leader" || term < core.term) return undefined
  const pr = core.progress.get(from)
  if (pr === undefined) {
    core.refuse(from, messageType, "ResponseNotExpected")
    return undefined
  }
  pr.recentActive = true
  return pr
}

export const onAppendEntriesResponse = (core: RaftCore, from: NodeId, m: AppendEntriesResponse): void => {
  const pr = respondingFollower(core, from, m.term, "AppendEntriesResponse")
  if (pr === undefined) return
  if (m.success) {
    if (m.matchIndex > core.log.lastIndex) return core.refuse(from, "AppendEntriesResponse", "AppendEntriesIndexOutOfRange")
    // A same-term answer, accepted or not, shows the follower still follows us (ReadIndex evidence).
    ReadIndex.onEcho(core, pr, m.echoedRound)
    const moved = pr.acknowledge(m.matchIndex, core.reads.round)
    if (pr.state === "Probe") pr.becomeReplicate()
    if (moved) maybeCommit(core)
    fill(core, from, pr)
    if (moved) Transfer.onMatch(core, from)
    return
  }
  ReadIndex.onEcho(core, pr, m.echoedRound)
  // A rejection of something the follower already proved it holds is stale (reordered or
  // duplicated) — unless it answers a frame sent after that proof arrived: then the follower lost
  // entries it acknowledged (its storage broke the contract), and without lowering `match` every
  // heartbeat (anchored at `match`) would be refused forever and the follower never repaired under
  // this leader (etcd-io/raft #25). An echo above our current round is not genuine. A rejection
  // of anything but our outstanding probe is stale too.
  const lost = m.echoedRound <= core.reads.round && pr.revealsLostEntries(m.rejectedIndex, m.echoedRound)
  if (m.rejectedIndex <= pr.match && !lost) return
  if (pr.state === "Probe" && m.rejectedIndex !== pr.next - 1) return
  core.trace({
    _tag: "AppendEntriesRejected",
    at: core.now,
    from,
    to: core.id,
    conflictIndex: m.conflictIndex,
    conflictTerm: m.conflictTerm
  })
  // §5.3 fast backup: skip the follower's whole conflicting term at once.
  let next = m.conflictIndex
  if (m.conflictTerm > 0) {
    const ours = core.log.lastIndexOfTerm(m.conflictTerm)
    if (ours > 0) next = ours + 1
  }
  // Back to Probe from the follower's hint: its last index + 1 when its log is too short.
  if (lost) pr.forgetMatch()
  pr.becomeProbe()
  pr.next = Math.max(pr.match + 1, Math.min(next, m.rejectedIndex))
  sendAppend(core, from, pr, true)
}

/**
 * Advances commit to the quorum-matched index, but only through an entry of the current term
 * (Figure 8, bug class B1): an older entry is committed indirectly, never by counting replicas.
 */
export const maybeCommit = (core: RaftCore): void => {
  const idx = quorumIndex(core.config, (id) => (id === core.id ? core.durableLast : core.progress.get(id)?.match ?? 0))
  if (idx > core.commitIndex && core.log.termAt(idx) === core.term) advanceCommit(core, idx)
}

/** CheckQuorum: a leader that has not heard from a quorum within an election timeout steps down. */
export const checkQuorum = (core: RaftCore): void => {
  const heard = (id: NodeId) => id === core.id || core.progress.get(id)?.recentActive === true
  const ok = hasQuorum(core.config, heard)
  for (const voter of allVoters(core.config)) {
    const pr = core.progress.get(voter)
    if (pr !== undefined) pr.recentActive = false
  }
  if (!ok) {
    // Same term: stepping down for lost contact is not evidence of a newer leader.
    becomeFollower(core, "LostQuorum", undefined)
    return
  }
  core.checkQuorumDeadline = core.now + core.rng.between(core.cfg.electionTimeoutMin, core.cfg.electionTimeoutMax)
}

/** Leaving leadership: every in-flight proposal learns it may not commit through us. */
export const abandonLeadership = (core: RaftCore, reason: StepDownReason): void => {
  const why = `leader stepped down (${reason})`
  for (const [, handle] of core.pendingLocal) {
    core.ready.resolutions.push({ handle, outcome: { _tag: "LeadershipLost", reason: why } })
  }
  core.pendingLocal.clear()
  for (const [, f] of core.pendingForwarded) {
    core.send(f.from, { _tag: "ForwardResponse", clientRequestId: f.clientRequestId, outcome: { _tag: "NotLeader" } })
  }
  core.pendingForwarded.clear()
  ReadIndex.abandon(core, why)
  DedupCache.abandon(core, why)
  core.progress.clear()
  core.dirty = false
}
