/**
 * The Raft protocol core: a deterministic, synchronous state machine with no Effect, no I/O and
 * no clock (docs/ARCHITECTURE.md, "Raft"). Inputs are method calls carrying `now` (ms, from the
 * shell's Clock); outputs accumulate in a `Ready` that the shell takes, persists, acknowledges and
 * sends — etcd's `RawNode` and `Step`.
 *
 * This file is the node's front door and the one place a turn is put together: the entry points
 * the shell calls (frames, ticks, client requests, the end of a turn, the storage's
 * acknowledgement), the dispatch of each frame to the step that owns its type (after the
 * dispatch-boundary gates), the end-of-turn bookkeeping, and the persistence bookkeeping that
 * enforces "no reply before the write it depends on". The state is `NodeState`; the steps that
 * change it are `Leader`, `Follower`, `Voting`, `Proposals`, `Requests`, `Timers`, `LocalLog` and
 * `Roles`; they apply what the leaf modules (`Progress`, `Quorum`, `ReadIndex`, `Transfer`,
 * `Membership`, `Snapshots`, `Trust`, `Wedge`, `DedupCache`, `Forwarding`) decide.
 */
import * as DedupCache from "./DedupCache.js"
import { highestOwnSerial } from "./DedupCache.js"
import type { Members } from "./Entries.js"
import * as Follower from "./Follower.js"
import type { Oversize } from "./Forwarding.js"
import type { NodeId } from "./Ids.js"
import * as Leader from "./Leader.js"
import { heartbeat, maybeCommit, replicateAll } from "./Leader.js"
import { appendLocal, emitCommitted, recomputeConfig } from "./LocalLog.js"
import { isUnsolicitedResponse } from "./Membership.js"
import type { RaftMessage, Vouch, VouchRequest } from "./Messages.js"
import { NodeState } from "./NodeState.js"
import type { StateOptions } from "./NodeState.js"
import * as Proposals from "./Proposals.js"
import { failStranded, flushParked } from "./Proposals.js"
import { Ready } from "./Ready.js"
import * as Requests from "./Requests.js"
import { flushReads } from "./Requests.js"
import { becomeFollower, campaign, resetElectionTimer } from "./Roles.js"
import { cut } from "./Snapshots.js"
import type { Cut } from "./Snapshots.js"
import * as Timers from "./Timers.js"
import * as Trust from "./Trust.js"
import * as Voting from "./Voting.js"
import { HEADER_RESERVE } from "./constants.js"

export { HEADER_RESERVE }

/** What a node is built from: the same fields as `NodeState`'s `StateOptions`, documented there. */
export type CoreOptions = StateOptions

export class RaftCore extends NodeState {
  constructor(options: CoreOptions) {
    super(options)
    recomputeConfig(this)
    this.serial = highestOwnSerial(this.log, this.clientId)
    this.role = this.isVoter ? "Follower" : "Learner"
    resetElectionTimer(this)
    // A lone voter needs nobody's permission: lead at once (original: "single voter skips both phases").
    if (this.isSoleVoter) campaign(this, false)
  }

  /** The earliest time the shell must call `tick`; see `Timers.nextDeadline`. */
  nextDeadline(): number {
    return Timers.nextDeadline(this)
  }

  // ---------------------------------------------------------------- inputs

  /** Fires every timer due at `now`; see `Timers.tick`. */
  tick(now: number): void {
    this.now = now
    Timers.tick(this)
  }

  /** Handles one decoded frame from `from` (already known to be a well-formed message); see `dispatch` below. */
  receive(from: NodeId, message: RaftMessage, now: number): void {
    this.now = now
    dispatch(this, from, message)
  }

  /** Proposes a command; see `Proposals.propose`. */
  propose(handle: number, command: Uint8Array, requestId: number | undefined, now: number): Oversize | undefined {
    this.now = now
    return Proposals.propose(this, handle, command, requestId)
  }

  /** The caller of `handle` gave up: never send it if parked, ignore its answer otherwise. */
  cancel(handle: number): void {
    Proposals.cancel(this, handle)
    Requests.cancel(this, handle)
  }

  /**
   * The transport's peer set changed to `peers`: forwards sent to a peer no longer in it fail
   * with `LeadershipLost`; see `Proposals.onPeers`.
   */
  peersChanged(peers: ReadonlySet<NodeId>, now: number): void {
    this.now = now
    Proposals.onPeers(this, peers)
  }

  /** A linearizable read on the leader (`NotLeader` elsewhere); see `Requests.readIndex`. */
  readIndex(handle: number, now: number): void {
    this.now = now
    Requests.readIndex(this, handle)
  }

  /** A read fence from any role (a follower asks its leader); see `Requests.readFence`. */
  readFence(handle: number, now: number): void {
    this.now = now
    Requests.readFence(this, handle)
  }

  /** Starts a leadership transfer to `target` (thesis §3.10); see `Requests.startTransfer`. */
  transferLeadership(handle: number, target: NodeId, now: number): void {
    this.now = now
    Requests.startTransfer(this, handle, target)
  }

  /**
   * The consumer published its state through `throughIndex`: compact the log (§7) when
   * `snapshotIndex < throughIndex ≤ lastEmitted`; see `Requests.compact`. Returns whether it did.
   */
  compact(throughIndex: number, state: Uint8Array, now: number): boolean {
    this.now = now
    return Requests.compact(this, throughIndex, state)
  }

  /** Starts a membership change (§6); the outcome arrives in `Ready.membership`. See `Requests.changeMembership`. */
  changeMembership(handle: number, target: Members, now: number): void {
    this.now = now
    Requests.changeMembership(this, handle, target)
  }

  /** The replay for `committedFrom(fromIndex)`: an `Install` first when at or below the floor. */
  committedFrom(fromIndex: number): Cut {
    return cut(this, fromIndex)
  }

  /** Abandons a pending transfer as `Cancelled` (a no-op when none is pending). */
  cancelTransfer(now: number): void {
    this.now = now
    Requests.cancelTransfer(this)
  }

  /**
   * Hands over everything accumulated since the last call, after the turn's deferred work
   * (`endTurn` below: a turn's proposals travel in one AppendEntries). `done`: a Ready the shell
   * has finished with, reused for the next step instead of a new one.
   */
  takeReady(done?: Ready): Ready {
    endTurn(this)
    const out = this.ready
    this.ready = done !== undefined && done !== out ? done.reset() : new Ready()
    this.pendingDurableLast = this.log.lastIndex
    return out
  }

  /** The shell wrote the last `Ready.persist` durably. */
  onPersisted(): void {
    this.durableLast = Math.min(this.pendingDurableLast, this.log.lastIndex)
    if (this.role === "Leader") maybeCommit(this)
  }
}

// ---------------------------------------------------------------- frames

/**
 * Handles one decoded frame from `from` (already known to be a well-formed message): the
 * dispatch-boundary gates first (a frame from ourselves, the membership gate of `Trust.ts`, a term
 * implausibly far ahead, a response we never asked for), then the step that owns its type.
 * Refusals are traced and counted by gate, never fatal; a refused leader frame also counts towards
 * a suspected wedge (`Wedge.ts`) and may make us ask our members who leads (vouching, `Trust.ts`),
 * whose answers are handled here too.
 */
const dispatch = (s: NodeState, from: NodeId, message: RaftMessage): void => {
  if (from === s.id) return s.refuse(from, message._tag, "NotAMember")
  // The membership gate: requests only from members (votes only from voters).
  const refusal = Trust.gate(s, from, message)
  if (refusal !== undefined) {
    s.refuse(from, message._tag, refusal)
    if (message._tag === "AppendEntries" || message._tag === "InstallSnapshot") {
      onLeaderFrameRefused(s, from, message.term, refusal === "NotAMember")
    }
    return
  }
  // Dispatch-boundary gate: a term far beyond ours is a poisoned or corrupt frame (original RefusalGate).
  const term = messageTerm(message)
  if (term !== undefined && term > s.term + s.cfg.maxTermJump) {
    s.refuse(from, message._tag, "ImplausibleTermJump")
    if (message._tag === "AppendEntries" || message._tag === "InstallSnapshot") onLeaderFrameRefused(s, from, message.term, false)
    return
  }
  if (isUnsolicitedResponse(s.config, from, message)) return s.refuse(from, message._tag, "ResponseNotExpected")
  switch (message._tag) {
    case "PreVote":
      return Voting.onPreVote(s, from, message)
    case "PreVoteResponse":
      return Voting.onPreVoteResponse(s, from, message)
    case "RequestVote":
      return Voting.onRequestVote(s, from, message)
    case "RequestVoteResponse":
      return Voting.onRequestVoteResponse(s, from, message)
    case "AppendEntries":
      return Follower.onAppendEntries(s, from, message)
    case "AppendEntriesResponse":
      return Leader.onAppendEntriesResponse(s, from, message)
    case "Forward":
      return Proposals.onForward(s, from, message)
    case "ForwardResponse":
      return Proposals.onForwardResponse(s, from, message)
    case "TimeoutNow":
      return Follower.onTimeoutNow(s, from, message)
    case "ReadIndexRequest":
      return Requests.onReadIndexRequest(s, from, message)
    case "ReadIndexResponse":
      return Requests.onReadIndexResponse(s, from, message)
    case "InstallSnapshot":
      return Follower.onInstallSnapshot(s, from, message)
    case "InstallSnapshotResponse":
      return Leader.onInstallSnapshotResponse(s, from, message)
    case "VouchRequest":
      return onVouchRequest(s, from, message)
    case "Vouch":
      return onVouch(s, from, message)
  }
}

/**
 * A leader frame from `from` claiming `term` (at least ours) was refused at the dispatch
 * boundary: count it towards a suspected wedge and, when the sender is unknown to us
 * (`unknownSender`), ask the members we trust who leads (at most once per `electionTimeoutMin`).
 */
const onLeaderFrameRefused = (s: NodeState, from: NodeId, term: number, unknownSender: boolean): void => {
  if (term < s.term) return
  if (s.wedge.refused(s.commitIndex)) s.suspectWedge("RefusedLeaderFrames", from, term)
  if (!unknownSender) return
  if (!s.vouch.ask(s.now, s.cfg.electionTimeoutMin, Trust.anchors(s))) return
  for (const id of s.vouch.asked) s.send(id, { _tag: "VouchRequest", term })
}

/** A member asks whom we follow: the leader of our current term, if we know a live one. */
const onVouchRequest = (s: NodeState, from: NodeId, _m: VouchRequest): void => {
  const leader = s.role === "Leader" ? s.id : s.leader
  s.send(from, leader === undefined ? { _tag: "Vouch", term: s.term } : { _tag: "Vouch", term: s.term, leader })
}

/** A member we asked answered: trust the leader it names at its term (never below ours). */
const onVouch = (s: NodeState, from: NodeId, m: Vouch): void => {
  const leader = s.vouch.accept(from, m, s.id, s.term)
  if (leader !== undefined) s.trace({ _tag: "LeaderVouched", at: s.now, node: s.id, voucher: from, leader, term: m.term })
}

/** The term a frame claims, for the dispatch-boundary gate (forwarding frames carry none). */
const messageTerm = (m: RaftMessage): number | undefined => {
  switch (m._tag) {
    case "Forward":
    case "ForwardResponse":
    case "ReadIndexRequest":
    case "ReadIndexResponse":
    case "VouchRequest":
    case "Vouch":
      return undefined
    case "PreVote":
    case "RequestVote":
    case "RequestVoteResponse":
    case "PreVoteResponse":
    case "AppendEntries":
    case "AppendEntriesResponse":
    case "InstallSnapshot":
    case "InstallSnapshotResponse":
    case "TimeoutNow":
      return m.term
  }
}

// ---------------------------------------------------------------- the end of a turn
// The bookkeeping that batches a turn's work, applied before its `Ready` is handed over: a
// membership change's next step, forwards stranded and proposals parked, the turn's read round,
// one replication of everything appended, the consumer's newly committed entries, the wedge check.

/** Everything a turn defers to its end, in order. */
const endTurn = (s: NodeState): void => {
  membershipTurnEnd(s)
  failStranded(s)
  flushParked(s)
  flushReads(s)
  if (s.role === "Leader" && s.dirty) {
    s.dirty = false
    replicateAll(s)
  }
  if (s.role === "Leader" && s.isSoleVoter) maybeCommit(s)
  emitCommitted(s)
  // Latch the point from which our client id's history is known (collision evidence after it).
  if (s.collisions.knownThrough === undefined) DedupCache.historyKnown(s.collisions, s)
  wedgeTurnEnd(s)
}

/**
 * Before the turn's appends are replicated: completes a committed joint configuration (§6: once
 * C_old,new commits, the leader appends C_new), resolves a finished change, and steps down a
 * leader the final configuration left out (thesis §4.2.2). Also fails a pending change whose
 * leader lost its term.
 */
const membershipTurnEnd = (s: NodeState): void => {
  const pending = s.membershipChange
  if (pending !== undefined && (s.role !== "Leader" || s.term !== pending.term)) {
    s.membershipChange = undefined
    s.ready.membership.push({
      handle: pending.handle,
      outcome: { _tag: "LeadershipLost", reason: "leadership was lost before the membership change committed" }
    })
  }
  if (s.role !== "Leader") return
  if (s.config.old !== undefined && s.configIndex <= s.commitIndex) {
    const index = s.log.lastIndex + 1
    appendLocal(s, { _tag: "Config", index, term: s.term, config: { new: s.config.new } })
    if (s.membershipChange !== undefined) s.membershipChange.finalIndex = index
  }
  const p = s.membershipChange
  if (p !== undefined && p.finalIndex !== undefined && p.finalIndex <= s.commitIndex) {
    s.membershipChange = undefined
    s.ready.membership.push({ handle: p.handle, outcome: { _tag: "Changed", config: p.target } })
  }
  if (s.config.old === undefined && s.configIndex <= s.commitIndex && !s.config.new.voters.has(s.id)) {
    // Thesis §4.2.2: tell the followers the final entry committed, then leave.
    heartbeat(s)
    becomeFollower(s, "RemovedFromConfig", undefined)
  }
}

/** Notes applied progress, reports a wedge that cleared, and checks `NotApplying` (`Wedge.ts`). */
const wedgeTurnEnd = (s: NodeState): void => {
  const following = s.role !== "Leader" && s.leader !== undefined
  switch (s.wedge.turnEnd(s.now, s.lastEmitted, following, s.cfg.wedgeSuspicionAfter)) {
    case undefined:
      return
    case "Cleared":
      s.trace({ _tag: "WedgeCleared", at: s.now, node: s.id, appliedIndex: s.lastEmitted })
      return
    case "NotApplying":
      s.suspectWedge("NotApplying", s.leader, s.term)
      return
  }
}
