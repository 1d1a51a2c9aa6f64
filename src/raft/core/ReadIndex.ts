/**
 * Linearizable reads without log writes: the ReadIndex protocol of thesis §6.4, and its follower
 * variant (§6.4.1, "read fences") for followers and learners.
 *
 * The leader (1) waits until an entry of its own term is committed — its no-op — so its commit
 * index covers every entry any earlier leader committed (B2); (2) records its commit index as the
 * read index; (3) confirms it is still leader: every AppendEntries carries the current `round`,
 * followers echo it, and a read queued while the round was H is confirmed once a voter quorum
 * (both quorums while joint) echoed a round strictly above H, i.e. processed a frame sent after
 * the read arrived, at our term (B3: an older or replayed echo never counts; B4: a minority
 * leader never confirms). An echo above the current round cannot be genuine and is discarded.
 * Reads queued in one turn share one round; a heartbeat also starts a new round.
 *
 * A follower or learner asks the leader (`ReadIndexRequest`) and gets the leader's read index
 * back as a fence; the caller then waits until its own applied index reaches it. The answer is
 * accepted only from the peer asked; a request whose peer stopped being our leader is re-sent to
 * the new one (a read is idempotent), and one made with no known leader waits for one.
 */
import type { ReadIndexRequest, ReadIndexResponse } from "./Messages.js"
import type { NodeId } from "./Ids.js"
import type { Progress } from "./Progress.js"
import { allReplicas, allVoters, hasQuorum, quorumIndex } from "./Quorum.js"
import type { RaftCore } from "./RaftCore.js"
import { sendHeartbeat } from "./Replication.js"

/** Who waits for a read: a local caller's handle, or a peer's fence request. */
export type ReadOrigin =
  | { readonly _tag: "Local"; readonly handle: number }
  | { readonly _tag: "Remote"; readonly from: NodeId; readonly requestId: number }

interface Confirming {
  readonly origin: ReadOrigin
  /** The leader's commit index when the read was admitted: the index the reader must apply to. */
  readonly index: number
  /** The round current when the read was admitted; it needs echoes of a round above this. */
  readonly round: number
}

/** The per-node read state (leader queues and, on followers, fences in flight). */
export class ReadState {
  /** The round stamped on every AppendEntries this node sends as leader (monotonic). */
  round = 0
  /** A read was admitted at the current round: start a new round at the end of the turn. */
  needRound = false
  /** Reads waiting for the leader's current-term no-op to commit (B2). */
  readonly awaitingNoOp: Array<ReadOrigin> = []
  /** Admitted reads, oldest (lowest round) first. */
  readonly confirming: Array<Confirming> = []
  /** Fence requests this node sent: handle → the peer asked. */
  readonly fences = new Map<number, NodeId>()
  /** Fence requests waiting for a known leader. */
  readonly parked: Array<number> = []
}

/** True once the leader has committed an entry of its current term (§5.4.2: its no-op). */
const noOpCommitted = (core: RaftCore): boolean => core.log.termAt(core.commitIndex) === core.term

/** `readIndex` proper: leader only; any other role answers `NotLeader` at once. */
export const readIndex = (core: RaftCore, handle: number): void => {
  if (core.role !== "Leader") {
    core.ready.resolutions.push({
      handle,
      outcome: { _tag: "NotLeader", leader: core.leader, reason: "readIndex is served by the leader only" }
    })
    return
  }
  admit(core, { _tag: "Local", handle })
}

/** A read fence from any role: the leader reads itself, anyone else asks the leader. */
export const readFence = (core: RaftCore, handle: number): void => {
  if (core.role === "Leader") return admit(core, { _tag: "Local", handle })
  if (core.leader !== undefined) return askLeader(core, handle, core.leader)
  core.reads.parked.push(handle)
}

const askLeader = (core: RaftCore, handle: number, leader: NodeId): void => {
  core.reads.fences.set(handle, leader)
  core.send(leader, { _tag: "ReadIndexRequest", requestId: handle })
}

/** Admits a read on the leader: hold it for the no-op, answer it, or queue it for a round. */
const admit = (core: RaftCore, origin: ReadOrigin): void => {
  const s = core.reads
  if (!noOpCommitted(core)) {
    s.awaitingNoOp.push(origin)
    return
  }
  // A lone voter is its own quorum: nothing to confirm (original: "a single voter answers at once").
  if (hasQuorum(core.config, (id) => id === core.id)) return answer(core, origin, core.commitIndex)
  s.confirming.push({ origin, index: core.commitIndex, round: s.round })
  s.needRound = true
}

/** A leader's heartbeat is about to go out: it carries a new round (the heartbeat bumps it). */
export const nextRound = (core: RaftCore): void => {
  core.reads.round += 1
  core.reads.needRound = false
}

/**
 * End of a turn. On the leader: admit reads whose no-op just committed, and start one new round
 * for every read admitted this turn (they share it). On other roles: send parked fence requests
 * and re-route those whose peer is no longer our leader.
 */
export const flush = (core: RaftCore): void => {
  const s = core.reads
  if (core.role === "Leader") {
    if (s.parked.length > 0 || s.fences.size > 0) {
      // We became leader while asking someone else: serve those reads ourselves.
      const handles = [...s.parked.splice(0), ...s.fences.keys()]
      s.fences.clear()
      for (const handle of handles) admit(core, { _tag: "Local", handle })
    }
    if (s.awaitingNoOp.length > 0 && noOpCommitted(core)) {
      for (const origin of s.awaitingNoOp.splice(0)) admit(core, origin)
    }
    if (s.needRound) {
      nextRound(core)
      const voters = allVoters(core.config)
      for (const [peer, pr] of core.progress) if (voters.has(peer)) sendHeartbeat(core, peer, pr)
    }
    return
  }
  const leader = core.leader
  if (leader === undefined) return
  for (const [handle, sentTo] of s.fences) if (sentTo !== leader) askLeader(core, handle, leader)
  for (const handle of s.parked.splice(0)) askLeader(core, handle, leader)
}

/**
 * A follower echoed `echoedRound` on an AppendEntries (or InstallSnapshot) response at our term.
 * Call only for responses at the current term, from a peer with progress.
 */
export const onEcho = (core: RaftCore, pr: Progress, echoedRound: number): void => {
  const s = core.reads
  // Above anything we sent: forged or corrupt, never evidence.
  if (echoedRound > s.round || echoedRound <= pr.echoedRound) return
  pr.echoedRound = echoedRound
  confirm(core)
}

/** Answers every queued read whose round a quorum has now overtaken. */
const confirm = (core: RaftCore): void => {
  const s = core.reads
  if (s.confirming.length === 0) return
  const acked = quorumIndex(core.config, (id) => (id === core.id ? s.round : core.progress.get(id)?.echoedRound ?? 0))
  let last = -1
  while (s.confirming.length > 0 && s.confirming[0]!.round < acked) {
    const q = s.confirming.shift()!
    answer(core, q.origin, q.index)
    last = q.index
  }
  if (last >= 0) core.trace({ _tag: "ReadIndexConfirmed", at: core.now, node: core.id, readIndex: last, term: core.term })
}

const answer = (core: RaftCore, origin: ReadOrigin, index: number): void => {
  switch (origin._tag) {
    case "Local":
      core.ready.resolutions.push({ handle: origin.handle, outcome: { _tag: "Read", index } })
      return
    case "Remote":
      core.send(origin.from, { _tag: "ReadIndexResponse", requestId: origin.requestId, outcome: { _tag: "Fence", index } })
      return
  }
}

/** Leaving leadership: no queued read can be confirmed by us any more. */
export const abandon = (core: RaftCore, why: string): void => {
  const s = core.reads
  const all = [...s.awaitingNoOp.splice(0), ...s.confirming.splice(0).map((q) => q.origin)]
  s.needRound = false
  for (const origin of all) {
    switch (origin._tag) {
      case "Local":
        core.ready.resolutions.push({ handle: origin.handle, outcome: { _tag: "LeadershipLost", reason: why } })
        break
      case "Remote":
        core.send(origin.from, { _tag: "ReadIndexResponse", requestId: origin.requestId, outcome: { _tag: "NotLeader" } })
        break
    }
  }
}

/** The caller of `handle` gave up. */
export const cancel = (core: RaftCore, handle: number): void => {
  const s = core.reads
  const mine = (o: ReadOrigin) => o._tag === "Local" && o.handle === handle
  removeWhere(s.awaitingNoOp, mine)
  removeWhere(s.confirming, (q) => mine(q.origin))
  removeWhere(s.parked, (h) => h === handle)
  s.fences.delete(handle)
}

const removeWhere = <A>(xs: Array<A>, p: (a: A) => boolean): void => {
  const i = xs.findIndex(p)
  if (i >= 0) xs.splice(i, 1)
}

/** The leader side of a fence request. */
export const onReadIndexRequest = (core: RaftCore, from: NodeId, m: ReadIndexRequest): void => {
  if (!allReplicas(core.config).has(from)) return core.refuse(from, "ReadIndexRequest", "NotAMember")
  if (core.role !== "Leader") {
    core.send(from, { _tag: "ReadIndexResponse", requestId: m.requestId, outcome: { _tag: "NotLeader" } })
    return
  }
  admit(core, { _tag: "Remote", from, requestId: m.requestId })
}

/** The asking side: accepted only from the peer the request was sent to. */
export const onReadIndexResponse = (core: RaftCore, from: NodeId, m: ReadIndexResponse): void => {
  const s = core.reads
  if (s.fences.get(m.requestId) !== from) return core.refuse(from, "ReadIndexResponse", "ResponseNotExpected")
  s.fences.delete(m.requestId)
  const o = m.outcome
  switch (o._tag) {
    case "Fence":
      core.ready.resolutions.push({ handle: m.requestId, outcome: { _tag: "Read", index: o.index } })
      return
    case "NotLeader":
      core.ready.resolutions.push({
        handle: m.requestId,
        outcome: { _tag: "LeadershipLost", reason: `${from} was no longer leader when the read fence request arrived` }
      })
      return
  }
}
