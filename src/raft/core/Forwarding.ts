/**
 * Proposals from any role (original §8 forwarding).
 *
 * The leader appends. A follower or learner forwards to the leader it knows, or parks the
 * proposal until one is known; a parked proposal whose caller gave up is never sent. The dedup key
 * is stamped here, by the proposing node, and rides the forward hop unchanged. A forward's answer
 * is accepted only from the peer it was sent to (the request id is just a local nonce).
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

export interface Parked {
  readonly handle: number
  readonly command: Uint8Array
  readonly dedupKey: DedupKey
}

export interface InFlight extends Parked {
  readonly sentTo: NodeId
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
  const dedupKey: DedupKey = { clientId: core.clientId, requestId: requestId ?? core.serial + 1 }
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
  // The serial is the highest request id this node issued (collision detection compares with
  // it); a caller-pinned id above it moves it too, so later automatic serials stay above it.
  core.serial = Math.max(core.serial, dedupKey.requestId)
  const p: Parked = { handle, command, dedupKey }
  if (core.role === "Leader") appendAsLeader(core, p.command, p.dedupKey, { local: handle })
  else if (core.leader !== undefined) sendForward(core, p, core.leader)
  else core.parked.push(p)
  return undefined
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

const sendForward = (core: RaftCore, p: Parked, leader: NodeId): void => {
  core.forwards.set(p.handle, { ...p, sentTo: leader })
  core.send(leader, { _tag: "Forward", clientRequestId: p.handle, command: p.command, dedupKey: p.dedupKey })
}

/** Called at the end of every turn: parked proposals go out as soon as a leader is known. */
export const flushParked = (core: RaftCore): void => {
  if (core.parked.length === 0 || core.leader === undefined) return
  const batch = core.parked.splice(0)
  for (const p of batch) {
    if (core.role === "Leader") appendAsLeader(core, p.command, p.dedupKey, { local: p.handle })
    else sendForward(core, p, core.leader)
  }
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
