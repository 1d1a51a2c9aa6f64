/**
 * Client requests other than proposals, applied to the node's state: linearizable reads
 * (ReadIndex, thesis §6.4, and its follower variant, read fences), leadership transfer (thesis
 * §3.10), membership changes (§6) and log compaction (§7). The rules are in the leaves
 * (`ReadIndex`, `Transfer`, `Membership`, `Snapshots`); the leader's side of rounds and `TimeoutNow`
 * is in `Leader`.
 *
 * Reads: the leader (1) waits until an entry of its own term is committed — its no-op — so its
 * commit index covers every entry any earlier leader committed (B2); (2) records its commit index
 * as the read index; (3) confirms it is still leader by a round of heartbeats a voter quorum
 * echoes (B3, B4). A follower or learner asks the leader (`ReadIndexRequest`) and gets the index
 * back as a fence; its caller then waits until its own applied index reaches it. The answer is
 * accepted only from the peer asked; a request whose peer stopped being our leader is re-sent to
 * the new one (a read is idempotent), and one made with no known leader waits for one.
 */
import type { Members } from "./Entries.js"
import type { NodeId } from "./Ids.js"
import { answerRead, maybeSendTimeoutNow, sendHeartbeat } from "./Leader.js"
import { appendLocal, persistSnapshot } from "./LocalLog.js"
import * as Membership from "./Membership.js"
import type { ReadIndexRequest, ReadIndexResponse } from "./Messages.js"
import type { NodeState } from "./NodeState.js"
import { allReplicas, allVoters, hasQuorum } from "./Quorum.js"
import type { ReadOrigin } from "./ReadIndex.js"
import { abandonTransfer } from "./Roles.js"
import { configAt, cutTerm } from "./Snapshots.js"
import { blockedByMembership, invalidTarget } from "./Transfer.js"

// ------------------------------------------------------------------ reads

/** `readIndex` proper: leader only; any other role answers `NotLeader` at once. */
export const readIndex = (s: NodeState, handle: number): void => {
  if (s.role !== "Leader") {
    s.ready.resolutions.push({
      handle,
      outcome: { _tag: "NotLeader", leader: s.leader, reason: "readIndex is served by the leader only" }
    })
    return
  }
  admit(s, { _tag: "Local", handle })
}

/** A read fence from any role: the leader reads itself, anyone else asks the leader. */
export const readFence = (s: NodeState, handle: number): void => {
  if (s.role === "Leader") return admit(s, { _tag: "Local", handle })
  if (s.leader !== undefined) return askLeader(s, handle, s.leader)
  s.reads.parked.push(handle)
}

const askLeader = (s: NodeState, handle: number, leader: NodeId): void => {
  s.reads.fences.set(handle, leader)
  s.send(leader, { _tag: "ReadIndexRequest", requestId: handle })
}

/** True once the leader has committed an entry of its current term (§5.4.2: its no-op). */
const noOpCommitted = (s: NodeState): boolean => s.log.termAt(s.commitIndex) === s.term

/** Admits a read on the leader: hold it for the no-op, answer it, or queue it for a round. */
const admit = (s: NodeState, origin: ReadOrigin): void => {
  if (!noOpCommitted(s)) {
    s.reads.awaitingNoOp.push(origin)
    return
  }
  // A lone voter is its own quorum: nothing to confirm (original: "a single voter answers at once").
  if (hasQuorum(s.config, (id) => id === s.id)) return answerRead(s, origin, s.commitIndex)
  s.reads.queue(origin, s.commitIndex)
}

/**
 * End of a turn. On the leader: admit reads whose no-op just committed, and start one new round
 * for every read admitted this turn (they share it). On other roles: send parked fence requests
 * and re-route those whose peer is no longer our leader.
 */
export const flushReads = (s: NodeState): void => {
  const r = s.reads
  if (s.role === "Leader") {
    if (r.parked.length > 0 || r.fences.size > 0) {
      // We became leader while asking someone else: serve those reads ourselves.
      const handles = [...r.parked.splice(0), ...r.fences.keys()]
      r.fences.clear()
      for (const handle of handles) admit(s, { _tag: "Local", handle })
    }
    if (r.awaitingNoOp.length > 0 && noOpCommitted(s)) {
      for (const origin of r.awaitingNoOp.splice(0)) admit(s, origin)
    }
    if (r.needRound) {
      r.nextRound()
      const voters = allVoters(s.config)
      for (const [peer, pr] of s.progress) if (voters.has(peer)) sendHeartbeat(s, peer, pr)
    }
    return
  }
  const leader = s.leader
  if (leader === undefined) return
  for (const [handle, sentTo] of r.fences) if (sentTo !== leader) askLeader(s, handle, leader)
  for (const handle of r.parked.splice(0)) askLeader(s, handle, leader)
}

/** The leader side of a fence request. */
export const onReadIndexRequest = (s: NodeState, from: NodeId, m: ReadIndexRequest): void => {
  if (!allReplicas(s.config).has(from)) return s.refuse(from, "ReadIndexRequest", "NotAMember")
  if (s.role !== "Leader") {
    s.send(from, { _tag: "ReadIndexResponse", requestId: m.requestId, outcome: { _tag: "NotLeader" } })
    return
  }
  admit(s, { _tag: "Remote", from, requestId: m.requestId })
}

/** The asking side: accepted only from the peer the request was sent to. */
export const onReadIndexResponse = (s: NodeState, from: NodeId, m: ReadIndexResponse): void => {
  const r = s.reads
  if (r.fences.get(m.requestId) !== from) return s.refuse(from, "ReadIndexResponse", "ResponseNotExpected")
  r.fences.delete(m.requestId)
  const o = m.outcome
  switch (o._tag) {
    case "Fence":
      s.ready.resolutions.push({ handle: m.requestId, outcome: { _tag: "Read", index: o.index } })
      return
    case "NotLeader":
      s.ready.resolutions.push({
        handle: m.requestId,
        outcome: { _tag: "LeadershipLost", reason: `${from} was no longer leader when the read fence request arrived` }
      })
      return
  }
}

// ------------------------------------------------------------------ leadership transfer

/**
 * Starts a transfer to `target`; immediate failures resolve `handle` at once. The leader stops
 * taking proposals and membership changes, brings the target's log up to its own last index, then
 * sends `TimeoutNow` (`Leader.maybeSendTimeoutNow`).
 */
export const startTransfer = (s: NodeState, handle: number, target: NodeId): void => {
  if (s.role !== "Leader") {
    s.ready.resolutions.push({
      handle,
      outcome: { _tag: "NotLeader", leader: s.leader, reason: "only the leader can transfer leadership" }
    })
    return
  }
  if (invalidTarget(s.config, s.id, target)) {
    s.ready.resolutions.push({ handle, outcome: { _tag: "TransferFailed", target, reason: "InvalidTarget" } })
    return
  }
  if (blockedByMembership(s.membershipChange, s.config, s.configIndex, s.commitIndex)) {
    s.ready.resolutions.push({ handle, outcome: { _tag: "MembershipChangeInProgress" } })
    return
  }
  if (s.transfer !== undefined) {
    s.ready.resolutions.push({ handle, outcome: { _tag: "TransferFailed", target, reason: "AlreadyInFlight" } })
    return
  }
  s.transfer = { handle, target, term: s.term, deadline: s.now + s.cfg.electionTimeoutMax, timeoutNowSent: false }
  s.trace({ _tag: "LeadershipTransferStarted", at: s.now, leader: s.id, target })
  // Replicate at the end of the turn, so a lagging target starts catching up at once.
  s.dirty = true
  maybeSendTimeoutNow(s, false)
}

/** `cancelTransfer`: a no-op when nothing is in flight. */
export const cancelTransfer = (s: NodeState): void => {
  if (s.transfer !== undefined) abandonTransfer(s, "Cancelled")
}

/** The caller of `handle` gave up: a read it waits for is dropped, a transfer it started is cancelled. */
export const cancel = (s: NodeState, handle: number): void => {
  s.reads.cancel(handle)
  if (s.transfer?.handle === handle) abandonTransfer(s, "Cancelled")
}

// ------------------------------------------------------------------ membership and compaction

/**
 * Starts a change to `target` (§6); the outcome arrives as a `MembershipResolution` for `handle`
 * (immediately for a refusal, when the final entry commits otherwise: `Turn.membershipTurnEnd`).
 */
export const changeMembership = (s: NodeState, handle: number, target: Members): void => {
  const refused = Membership.refusal(s, target)
  if (refused !== undefined) {
    s.ready.membership.push({ handle, outcome: refused })
    return
  }
  const index = s.log.lastIndex + 1
  const { config, simple } = Membership.firstStep(s.config.new, target)
  s.membershipChange = { handle, term: s.term, target, finalIndex: simple ? index : undefined }
  appendLocal(s, { _tag: "Config", index, term: s.term, config })
}

/**
 * Compacts the log through `throughIndex` with the consumer's `state` (§7): the snapshot records
 * the membership in force AT THE CUT, not the live one (a later config entry may still roll back).
 * Applies only when `snapshotIndex < throughIndex ≤ lastEmitted`; returns whether it did.
 */
export const compact = (s: NodeState, throughIndex: number, state: Uint8Array): boolean => {
  const term = cutTerm(s.log, s.lastEmitted, throughIndex)
  if (term === undefined) return false
  const config = configAt(s.log, s.snapshotConfig ?? s.bootstrap, throughIndex)
  persistSnapshot(s, { meta: { lastIncludedIndex: throughIndex, lastIncludedTerm: term, config }, state }, true)
  s.trace({ _tag: "Compacted", at: s.now, node: s.id, throughIndex, throughTerm: term })
  return true
}
