/**
 * Proposals from any role (original §8 forwarding).
 *
 * The leader appends. A follower or learner forwards to the leader it knows, or parks the
 * proposal until one is known; a parked proposal whose caller gave up is never sent. The dedup key
 * is stamped here, by the proposing node, and rides the forward hop unchanged. A forward's answer
 * is accepted only from the peer it was sent to (the request id is just a local nonce).
 *
 * A forward is stranded once its peer can no longer be the one to answer it: this node saw a
 * higher term, another leader for the term, became candidate or leader itself, or the transport
 * lost the peer. Nothing else would ever answer it (a crashed leader's `pendingForwarded` died
 * with it), so it fails with `LeadershipLost`: outcome unknown, as for a leader's own proposals
 * when it steps down. It is not re-sent: the caller retries with the same request id, and the new
 * leader's dedup cache (or the consumer's `ClientSessionTable`) keeps that exactly-once. While
 * the transport reports the known leader gone, new proposals park instead of following it.
 */
import type { Forward, ForwardResponse } from "../../codec/raft/RaftMessage.js"
import type { DedupKey } from "../../../services/raft/ClientId.js"
import type { CommandEntry, LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftMetric, RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { HEADER_RESERVE } from "./constants.js"
import * as DedupCache from "./DedupCache.js"
import type { RaftCore } from "./RaftCore.js"
import { appendLocal } from "./LocalLog.js"
import * as Transfer from "./Transfer.js"

// Read once: every property read of a `Data.taggedEnum` builds a fresh constructor (per proposal here).
const ClientRequest = RaftTraceEvent.ClientRequest
const ProposeAccepted = RaftMetric.ProposeAccepted

/** A proposal waiting for a leader (or, under a `Durable` id, for its history: unstamped). */
export interface Parked {
  readonly handle: number
  readonly command: Uint8Array
  /** `undefined`: stamp the next serial when it leaves (`DedupCache.historyKnown`). */
  readonly dedupKey: DedupKey | undefined
}

export interface InFlight {
  readonly handle: number
  readonly command: Uint8Array
  readonly dedupKey: DedupKey
  readonly sentTo: NodeId
  /** Our term when it was sent: `sentTo` was the leader we knew for that term. */
  readonly term: number
}

/** An over-budget proposal, refused before anything enters the log (exact numbers, §2.5). */
export interface Oversize {
  readonly payloadBytes: number
  readonly budgetBytes: number
  readonly reservedBytes: number
}

/**
 * Proposes `command`. Returns `Oversize` if it can never fit a frame (no serial is spent),
 * otherwise `undefined`: the outcome arrives later as a `Resolution` for `handle`.
 */
export const propose = (
  core: RaftCore,
  handle: number,
  command: Uint8Array,
  requestId: number | undefined
): Oversize | undefined => {
  // A durable id's automatic serial waits until the id's history is known: a serial below an
  // earlier holder's requests would be taken for a duplicate (see `DedupCache`).
  const deferred = requestId === undefined && !DedupCache.historyKnown(core)
  const dedupKey: DedupKey = { clientId: core.clientId, requestId: deferred ? Number.MAX_SAFE_INTEGER : requestId ?? core.serial + 1 }
  if (core.maxPayload !== undefined) {
    // The budget for the command itself: the frame budget less the header reserve and this
    // entry's own envelope (kind, dedup key, and index and term at their widest, so the answer does
    // not depend on how long the log happens to be).
    const widest = Number.MAX_SAFE_INTEGER
    const probe: CommandEntry = { _tag: "Command", index: widest, term: widest, command, dedupKey }
    const envelope = core.entrySize(probe) - command.byteLength
    const budgetBytes = Math.max(0, core.maxPayload - HEADER_RESERVE - envelope)
    if (command.byteLength > budgetBytes) {
      return { payloadBytes: command.byteLength, budgetBytes, reservedBytes: core.maxPayload - budgetBytes }
    }
  }
  if (deferred || hasUnstamped(core)) {
    // Behind an unstamped proposal: wait with it, in order.
    core.parked.push({ handle, command, dedupKey: deferred ? undefined : stamp(core, requestId) })
    return undefined
  }
  const key = stamp(core, requestId)
  if (core.role === "Leader") return void appendAsLeader(core, command, key, { local: handle })
  const to = forwardTarget(core)
  if (to !== undefined) sendForward(core, { handle, command, dedupKey: key }, to)
  else core.parked.push({ handle, command, dedupKey: key })
  return undefined
}

/** A parked proposal still waits for its serial (its id's history is being replayed). */
const hasUnstamped = (core: RaftCore): boolean => {
  for (const p of core.parked) if (p.dedupKey === undefined) return true
  return false
}

/**
 * The dedup key of a proposal leaving now. The serial is the highest request id this node issued
 * (collision detection compares with it); a caller-pinned id above it moves it too, so later
 * automatic serials stay above it.
 */
const stamp = (core: RaftCore, requestId: number | undefined): DedupKey => {
  const key: DedupKey = { clientId: core.clientId, requestId: requestId ?? core.serial + 1 }
  core.serial = Math.max(core.serial, key.requestId)
  return key
}

/**
 * Where a proposal goes now: the leader we know, unless the transport reports it gone (a forward
 * to it could never be answered, so the proposal parks until a leader the transport can reach is
 * known). With no peer set reported (a bare core), the known leader.
 */
const forwardTarget = (core: RaftCore): NodeId | undefined => {
  const leader = core.leader
  if (leader === undefined) return undefined
  return core.transportPeers === undefined || core.transportPeers.has(leader) ? leader : undefined
}

const appendAsLeader = (
  core: RaftCore,
  command: Uint8Array,
  dedupKey: DedupKey,
  origin: DedupCache.ProposalOrigin
): void => {
  if (Transfer.inFlight(core)) {
    // Thesis §3.10: a transferring leader takes no new entries; the caller retries on the target.
    if ("local" in origin) {
      core.ready.resolutions.push({
        handle: origin.local,
        outcome: { _tag: "NotLeader", leader: core.transfer?.target, reason: "a leadership transfer is in flight" }
      })
    } else {
      core.send(origin.from, { _tag: "ForwardResponse", clientRequestId: origin.clientRequestId, outcome: { _tag: "NotLeader" } })
    }
    return
  }
  // Thesis §6.3: a key already committed (or in flight) in this term is answered, not re-appended.
  if (DedupCache.absorb(core, dedupKey, origin)) return
  const index = core.log.lastIndex + 1
  const entry: CommandEntry = { _tag: "Command", index, term: core.term, command, dedupKey }
  appendLocal(core, entry)
  DedupCache.noteAppended(core, entry)
  if ("local" in origin) core.pendingLocal.set(index, origin.local)
  else core.pendingForwarded.set(index, origin)
  if (core.tracing) core.trace(ClientRequest({ at: core.now, node: core.id, index, term: core.term }))
  if (core.metering) core.metric(ProposeAccepted({ logIndex: index, term: core.term }))
}

const sendForward = (core: RaftCore, p: { readonly handle: number; readonly command: Uint8Array; readonly dedupKey: DedupKey }, leader: NodeId): void => {
  core.forwards.set(p.handle, { handle: p.handle, command: p.command, dedupKey: p.dedupKey, sentTo: leader, term: core.term })
  core.send(leader, { _tag: "Forward", clientRequestId: p.handle, command: p.command, dedupKey: p.dedupKey })
}

/** Called at the end of every turn: parked proposals go out as soon as a leader is known. */
export const flushParked = (core: RaftCore): void => {
  if (core.parked.length === 0) return
  if (hasUnstamped(core) && !DedupCache.historyKnown(core)) return
  if (core.role === "Leader") {
    for (const p of core.parked.splice(0)) {
      appendAsLeader(core, p.command, p.dedupKey ?? stamp(core, undefined), { local: p.handle })
    }
    return
  }
  const to = forwardTarget(core)
  if (to === undefined) return
  for (const p of core.parked.splice(0)) {
    sendForward(core, { handle: p.handle, command: p.command, dedupKey: p.dedupKey ?? stamp(core, undefined) }, to)
  }
}

/**
 * Called at the end of every turn, before parked proposals go out: fails the forwards whose peer
 * stopped being our leader (see the header). Walks the table only when the term or the leader
 * changed since the last walk: a forward sent since then was sent under the current view.
 */
export const failStranded = (core: RaftCore): void => {
  if (core.forwards.size === 0) return
  if (core.term === core.forwardsTerm && core.leader === core.forwardsLeader) return
  core.forwardsTerm = core.term
  core.forwardsLeader = core.leader
  for (const f of core.forwards.values()) {
    const why = strandedBy(core, f)
    if (why !== undefined) strand(core, f, why)
  }
}

/** Why `f`'s peer can no longer answer it, or `undefined` while it still may. */
const strandedBy = (core: RaftCore, f: InFlight): string | undefined => {
  if (core.role === "Leader" || core.role === "Candidate") {
    return `this node became ${core.role.toLowerCase()} at term ${core.term} before ${f.sentTo} answered a forwarded proposal`
  }
  if (core.term > f.term) {
    return `term ${core.term} began before ${f.sentTo}, leader of term ${f.term}, answered a forwarded proposal`
  }
  if (core.leader !== undefined && core.leader !== f.sentTo) {
    return `${core.leader} leads term ${core.term}, not ${f.sentTo} to which the proposal was forwarded`
  }
  // No leader known (an election timeout at the same term, a pre-vote): the old leader may
  // still be alive and answer, so keep waiting; a real election bumps the term.
  return undefined
}

/** The transport's peer set is now `peers`: a forward sent to a peer outside it is stranded. */
export const onPeers = (core: RaftCore, peers: ReadonlySet<NodeId>): void => {
  core.transportPeers = peers
  for (const f of core.forwards.values()) {
    if (!peers.has(f.sentTo)) strand(core, f, `${f.sentTo} left the transport before answering a forwarded proposal`)
  }
}

// Outcome unknown: the peer may have appended it, and it may still commit.
const strand = (core: RaftCore, f: InFlight, reason: string): void => {
  core.forwards.delete(f.handle)
  core.ready.resolutions.push({ handle: f.handle, outcome: { _tag: "LeadershipLost", reason } })
}

export const cancel = (core: RaftCore, handle: number): void => {
  const i = core.parked.findIndex((p) => p.handle === handle)
  if (i >= 0) core.parked.splice(i, 1)
  core.forwards.delete(handle)
  DedupCache.cancel(core, handle)
  for (const [index, h] of core.pendingLocal) {
    if (h === handle) {
      // Already in the log: it may still commit, but nobody waits for the answer.
      core.pendingLocal.delete(index)
      break
    }
  }
}

export const onForward = (core: RaftCore, from: NodeId, m: Forward): void => {
  if (core.role !== "Leader") {
    // The leader never re-forwards: the proposer retries against whoever leads now.
    core.send(from, { _tag: "ForwardResponse", clientRequestId: m.clientRequestId, outcome: { _tag: "NotLeader" } })
    return
  }
  appendAsLeader(core, m.command, m.dedupKey, { from, clientRequestId: m.clientRequestId })
}

export const onForwardResponse = (core: RaftCore, from: NodeId, m: ForwardResponse): void => {
  const f = core.forwards.get(m.clientRequestId)
  if (f === undefined || f.sentTo !== from) return core.refuse(from, "ForwardResponse", "ResponseNotExpected")
  core.forwards.delete(m.clientRequestId)
  const o = m.outcome
  switch (o._tag) {
    case "Committed": {
      const entry: CommandEntry = { _tag: "Command", index: o.index, term: o.term, command: f.command, dedupKey: f.dedupKey }
      core.ready.resolutions.push({ handle: f.handle, outcome: { _tag: "Proposed", entry } })
      return
    }
    case "NotLeader":
      core.ready.resolutions.push({
        handle: f.handle,
        outcome: { _tag: "LeadershipLost", reason: `${from} was no longer leader when the forwarded proposal arrived` }
      })
      return
    case "Failed":
      core.ready.resolutions.push({ handle: f.handle, outcome: { _tag: "LeadershipLost", reason: o.reason } })
      return
  }
}

/** The leader committed `entry`: answer whoever proposed it. */
export const onLeaderCommitted = (core: RaftCore, entry: LogEntry): void => {
  if (entry._tag !== "Command") return
  DedupCache.recordCommitted(core, entry)
  const local = core.pendingLocal.get(entry.index)
  if (local !== undefined) {
    core.pendingLocal.delete(entry.index)
    core.ready.resolutions.push({ handle: local, outcome: { _tag: "Proposed", entry } })
    return
  }
  const fwd = core.pendingForwarded.get(entry.index)
  if (fwd !== undefined) {
    core.pendingForwarded.delete(entry.index)
    core.send(fwd.from, {
      _tag: "ForwardResponse",
      clientRequestId: fwd.clientRequestId,
      outcome: { _tag: "Committed", index: entry.index, term: entry.term }
    })
  }
}
