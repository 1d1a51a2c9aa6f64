/**
 * Proposals from any role (original §8 forwarding; the rules are in `Forwarding.ts`), applied to
 * the node's state: the leader appends; a follower or learner forwards to the leader it knows, or
 * parks the proposal until one is known. The dedup key is stamped here, by the proposing node, and
 * rides the forward hop unchanged; the leader answers a key it already knows from its dedup cache
 * (thesis §6.3) instead of appending it again.
 */
import * as DedupCache from "./DedupCache.js"
import type { ProposalOrigin } from "./DedupCache.js"
import type { CommandEntry } from "./Entries.js"
import { hasUnstamped, oversize, strandedBy } from "./Forwarding.js"
import type { InFlight, Oversize } from "./Forwarding.js"
import type { DedupKey, NodeId } from "./Ids.js"
import type { Forward, ForwardResponse } from "./Messages.js"
import type { NodeState } from "./NodeState.js"
import { answerProposal, appendLocal } from "./LocalLog.js"

/**
 * Proposes `command`. Returns `Oversize` if it can never fit a frame (no serial is spent),
 * otherwise `undefined`: the outcome arrives later as a `Resolution` for `handle`.
 */
export const propose = (s: NodeState, handle: number, command: Uint8Array, requestId: number | undefined): Oversize | undefined => {
  // A durable id's automatic serial waits until the id's history is known: a serial below an
  // earlier holder's requests would be taken for a duplicate (see `DedupCache`).
  const deferred = requestId === undefined && !DedupCache.historyKnown(s.collisions, s)
  const dedupKey: DedupKey = { clientId: s.clientId, requestId: deferred ? Number.MAX_SAFE_INTEGER : requestId ?? s.serial + 1 }
  const over = oversize(s.maxPayload, s.entrySize, command, dedupKey)
  if (over !== undefined) return over
  if (deferred || hasUnstamped(s.parked)) {
    // Behind an unstamped proposal: wait with it, in order.
    s.parked.push({ handle, command, dedupKey: deferred ? undefined : stamp(s, requestId) })
    return undefined
  }
  const key = stamp(s, requestId)
  if (s.role === "Leader") return void appendAsLeader(s, command, key, { local: handle })
  const to = forwardTarget(s)
  if (to !== undefined) sendForward(s, handle, command, key, to)
  else s.parked.push({ handle, command, dedupKey: key })
  return undefined
}

/**
 * The dedup key of a proposal leaving now. The serial is the highest request id this node issued
 * (collision detection compares with it); a caller-pinned id above it moves it too, so later
 * automatic serials stay above it.
 */
const stamp = (s: NodeState, requestId: number | undefined): DedupKey => {
  const key: DedupKey = { clientId: s.clientId, requestId: requestId ?? s.serial + 1 }
  s.serial = Math.max(s.serial, key.requestId)
  return key
}

/**
 * Where a proposal goes now: the leader we know, unless the transport reports it gone (a forward
 * to it could never be answered, so the proposal parks until a leader the transport can reach is
 * known). With no peer set reported (a bare core), the known leader.
 */
const forwardTarget = (s: NodeState): NodeId | undefined => {
  const leader = s.leader
  if (leader === undefined) return undefined
  return s.transportPeers === undefined || s.transportPeers.has(leader) ? leader : undefined
}

const appendAsLeader = (s: NodeState, command: Uint8Array, dedupKey: DedupKey, origin: ProposalOrigin): void => {
  if (s.transfer !== undefined) {
    // Thesis §3.10: a transferring leader takes no new entries; the caller retries on the target.
    if ("local" in origin) {
      s.ready.resolutions.push({
        handle: origin.local,
        outcome: { _tag: "NotLeader", leader: s.transfer.target, reason: "a leadership transfer is in flight" }
      })
    } else {
      s.send(origin.from, { _tag: "ForwardResponse", clientRequestId: origin.clientRequestId, outcome: { _tag: "NotLeader" } })
    }
    return
  }
  // Thesis §6.3: a key already committed (or in flight) in this term is answered, not re-appended.
  const known = DedupCache.absorb(s.dedup, dedupKey, origin)
  if (known !== false) {
    if (known !== true) answerProposal(s, origin, known)
    return
  }
  const index = s.log.lastIndex + 1
  const entry: CommandEntry = { _tag: "Command", index, term: s.term, command, dedupKey }
  appendLocal(s, entry)
  DedupCache.noteAppended(s.dedup, entry)
  if ("local" in origin) s.pendingLocal.set(index, origin.local)
  else s.pendingForwarded.set(index, origin)
  if (s.tracing) s.trace({ _tag: "ClientRequest", at: s.now, node: s.id, index, term: s.term })
  if (s.metering) s.metric({ _tag: "ProposeAccepted", logIndex: index, term: s.term })
}

const sendForward = (s: NodeState, handle: number, command: Uint8Array, dedupKey: DedupKey, leader: NodeId): void => {
  s.forwards.set(handle, { handle, command, dedupKey, sentTo: leader, term: s.term })
  s.send(leader, { _tag: "Forward", clientRequestId: handle, command, dedupKey })
}

/** Called at the end of every turn: parked proposals go out as soon as a leader is known. */
export const flushParked = (s: NodeState): void => {
  if (s.parked.length === 0) return
  if (hasUnstamped(s.parked) && !DedupCache.historyKnown(s.collisions, s)) return
  if (s.role === "Leader") {
    for (const p of s.parked.splice(0)) {
      appendAsLeader(s, p.command, p.dedupKey ?? stamp(s, undefined), { local: p.handle })
    }
    return
  }
  const to = forwardTarget(s)
  if (to === undefined) return
  for (const p of s.parked.splice(0)) sendForward(s, p.handle, p.command, p.dedupKey ?? stamp(s, undefined), to)
}

/**
 * Called at the end of every turn, before parked proposals go out: fails the forwards whose peer
 * stopped being our leader (`Forwarding.strandedBy`). Walks the table only when the term or the
 * leader changed since the last walk: a forward sent since then was sent under the current view.
 */
export const failStranded = (s: NodeState): void => {
  if (s.forwards.size === 0) return
  if (s.term === s.forwardsTerm && s.leader === s.forwardsLeader) return
  s.forwardsTerm = s.term
  s.forwardsLeader = s.leader
  for (const f of s.forwards.values()) {
    const why = strandedBy(s, f)
    if (why !== undefined) strand(s, f, why)
  }
}

/** The transport's peer set is now `peers`: a forward sent to a peer outside it is stranded. */
export const onPeers = (s: NodeState, peers: ReadonlySet<NodeId>): void => {
  s.transportPeers = peers
  for (const f of s.forwards.values()) {
    if (!peers.has(f.sentTo)) strand(s, f, `${f.sentTo} left the transport before answering a forwarded proposal`)
  }
}

// Outcome unknown: the peer may have appended it, and it may still commit.
const strand = (s: NodeState, f: InFlight, reason: string): void => {
  s.forwards.delete(f.handle)
  s.ready.resolutions.push({ handle: f.handle, outcome: { _tag: "LeadershipLost", reason } })
}

/** The caller of `handle` gave up on a proposal: never send it if parked, ignore its answer otherwise. */
export const cancel = (s: NodeState, handle: number): void => {
  const i = s.parked.findIndex((p) => p.handle === handle)
  if (i >= 0) s.parked.splice(i, 1)
  s.forwards.delete(handle)
  DedupCache.cancel(s.dedup, handle)
  for (const [index, h] of s.pendingLocal) {
    if (h === handle) {
      // Already in the log: it may still commit, but nobody waits for the answer.
      s.pendingLocal.delete(index)
      break
    }
  }
}

export const onForward = (s: NodeState, from: NodeId, m: Forward): void => {
  if (s.role !== "Leader") {
    // The leader never re-forwards: the proposer retries against whoever leads now.
    s.send(from, { _tag: "ForwardResponse", clientRequestId: m.clientRequestId, outcome: { _tag: "NotLeader" } })
    return
  }
  appendAsLeader(s, m.command, m.dedupKey, { from, clientRequestId: m.clientRequestId })
}

export const onForwardResponse = (s: NodeState, from: NodeId, m: ForwardResponse): void => {
  const f = s.forwards.get(m.clientRequestId)
  if (f === undefined || f.sentTo !== from) return s.refuse(from, "ForwardResponse", "ResponseNotExpected")
  s.forwards.delete(m.clientRequestId)
  const o = m.outcome
  switch (o._tag) {
    case "Committed": {
      const entry: CommandEntry = { _tag: "Command", index: o.index, term: o.term, command: f.command, dedupKey: f.dedupKey }
      s.ready.resolutions.push({ handle: f.handle, outcome: { _tag: "Proposed", entry } })
      return
    }
    case "NotLeader":
      s.ready.resolutions.push({
        handle: f.handle,
        outcome: { _tag: "LeadershipLost", reason: `${from} was no longer leader when the forwarded proposal arrived` }
      })
      return
    case "Failed":
      s.ready.resolutions.push({ handle: f.handle, outcome: { _tag: "LeadershipLost", reason: o.reason } })
      return
  }
}
