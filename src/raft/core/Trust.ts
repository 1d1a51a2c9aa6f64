/**
 * The membership gate: whom a node obeys. A room is not an authority — any peer that reaches a
 * node's transport can send it any frame — so a node acts on a Raft request only when its sender
 * belongs to the configuration in force (both halves of a joint one):
 *
 * - AppendEntries, InstallSnapshot, RequestVote, PreVote, Forward, ReadIndexRequest and
 *   VouchRequest: from members (voters and learners);
 * - TimeoutNow: from voters only.
 *
 * Vote requests are taken from any member, not only from voters of OUR configuration: a learner
 * asks for votes only when it knows a newer configuration that made it a voter, which we may not
 * have learned yet (etcd's `campaign_learner_must_vote`; without it a cluster whose promoted
 * learners missed their promotion could not elect — test/regressions/B10). Members are honest by
 * assumption, so this admits no stranger; a non-voter's vote never counts for us either way
 * (`Elections.onPreVoteResponse`, `onRequestVoteResponse`).
 *
 * Anything else is dropped, traced (`FrameRefused` naming the gate) and counted by reason. A
 * removed member is a stranger to every node that knows of its removal. Responses have their own
 * gate (`Membership.isUnsolicitedResponse`, and the per-request matching of forwards, reads and
 * vouches). Byzantine members — a member that lies — are out of scope.
 *
 * Two rules complete it:
 *
 * - A joiner (a node whose configuration has no voters yet, `ClusterConfig.of([], [self])`)
 *   trusts only the nodes it was told to join through (`joinVia`): it treats them as members
 *   (their leader frames and vote requests are accepted), and they are the ones it asks to vouch. Once a configuration with voters is in force
 *   (from a config entry or a snapshot a trusted leader sent), the normal rule applies.
 * - A node that missed a membership change — say a follower partitioned while a new voter was
 *   added and then elected — does not know its new leader and refuses its frames. It then asks
 *   the members it does know (`VouchRequest`, at most once per `electionTimeoutMin`) who leads;
 *   a member's answer (`Vouch`) naming a leader and a term lets it accept that leader's frames at
 *   exactly that term, which brings it the configuration entries that name the leader. If no
 *   member it knows is reachable and following the leader, it stays behind and says so
 *   (`WedgeSuspected`); the way back is to re-add it under a new id.
 *
 * Soundness: a vouched leader is one that a member accepted under this same gate, so by
 * induction it is the genuine leader of that term (members do not lie).
 */
import type { RaftMessage, Vouch, VouchRequest } from "../../codec/raft/RaftMessage.js"
import type { ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RefusalGate } from "../../../services/raft/RaftTrace.js"
import { isMember } from "./Membership.js"
import type { RaftCore } from "./RaftCore.js"
import * as Wedge from "./Wedge.js"

/** Vouching state of one node: whom it asked, when, and the leader last vouched for. */
export class VouchState {
  /** The members asked in the latest round; a `Vouch` from anyone else is refused. */
  readonly asked = new Set<NodeId>()
  askedAt = -Infinity
  /** A leader a member vouched for, trusted at exactly `term`. */
  vouched: { readonly leader: NodeId; readonly term: number } | undefined = undefined
}

/** Whether `config` has any voter (a joiner's bootstrap has none). */
export const hasVoters = (config: ConfigPayload): boolean =>
  config.new.voters.size > 0 || (config.old !== undefined && config.old.voters.size > 0)

const isVoterOf = (config: ConfigPayload, id: NodeId): boolean =>
  config.new.voters.has(id) || (config.old !== undefined && config.old.voters.has(id))

/** The nodes this node asks to vouch: the other members of its configuration, or its `joinVia` while it has no voters. */
export const anchors = (core: RaftCore): Array<NodeId> => {
  const c = core.config
  const out = new Set<NodeId>()
  const add = (ids: Iterable<NodeId>) => {
    for (const id of ids) if (id !== core.id) out.add(id)
  }
  add(c.new.voters)
  add(c.new.learners)
  if (c.old !== undefined) {
    add(c.old.voters)
    add(c.old.learners)
  }
  if (!hasVoters(c)) add(core.joinVia)
  return [...out]
}

/**
 * Is `from` someone this node knows: a member of its configuration, or — while that has no voters
 * (a joiner) — one of the nodes it joins through?
 */
export const knows = (core: RaftCore, from: NodeId): boolean => {
  const c = core.config
  return isMember(c, from) || (!hasVoters(c) && core.joinVia.has(from))
}

/** May `from` act as leader of `term` towards this node? */
export const trustsLeader = (core: RaftCore, from: NodeId, term: number): boolean => {
  if (knows(core, from)) return true
  const v = core.vouch.vouched
  return v !== undefined && v.leader === from && v.term === term
}

/** The gate `m` from `from` fails, or `undefined` when it may go on to its handler. */
export const gate = (core: RaftCore, from: NodeId, m: RaftMessage): RefusalGate | undefined => {
  switch (m._tag) {
    case "AppendEntries":
    case "InstallSnapshot":
      return trustsLeader(core, from, m.term) ? undefined : "NotAMember"
    case "TimeoutNow":
      if (isVoterOf(core.config, from)) return undefined
      return isMember(core.config, from) ? "NotAVoter" : "NotAMember"
    case "RequestVote":
    case "PreVote":
    case "Forward":
    case "ReadIndexRequest":
    case "VouchRequest":
      return knows(core, from) ? undefined : "NotAMember"
    case "Vouch":
      return core.vouch.asked.has(from) ? undefined : "VouchNotAsked"
    case "RequestVoteResponse":
    case "PreVoteResponse":
    case "AppendEntriesResponse":
    case "InstallSnapshotResponse":
    case "ForwardResponse":
    case "ReadIndexResponse":
      // Responses: `Membership.isUnsolicitedResponse` and the handlers' own request matching.
      return undefined
  }
}

/**
 * A leader frame from `from` claiming `term` (at least ours) was refused at the dispatch
 * boundary: count it towards a suspected wedge and, when the sender is unknown to us
 * (`unknownSender`), ask the members we trust who leads (at most once per `electionTimeoutMin`).
 */
export const onLeaderFrameRefused = (core: RaftCore, from: NodeId, term: number, unknownSender: boolean): void => {
  if (term < core.term) return
  Wedge.onRefusedLeaderFrame(core, from, term)
  if (!unknownSender) return
  const v = core.vouch
  if (core.now < v.askedAt + core.cfg.electionTimeoutMin) return
  const targets = anchors(core)
  if (targets.length === 0) return
  v.askedAt = core.now
  v.asked.clear()
  for (const id of targets) {
    v.asked.add(id)
    core.send(id, { _tag: "VouchRequest", term })
  }
}

/** A member asks whom we follow: the leader of our current term, if we know a live one. */
export const onVouchRequest = (core: RaftCore, from: NodeId, _m: VouchRequest): void => {
  const leader = core.role === "Leader" ? core.id : core.leader
  core.send(from, leader === undefined ? { _tag: "Vouch", term: core.term } : { _tag: "Vouch", term: core.term, leader })
}

/** A member we asked answered: trust the leader it names at its term (never below ours). */
export const onVouch = (core: RaftCore, from: NodeId, m: Vouch): void => {
  const v = core.vouch
  v.asked.delete(from)
  const leader = m.leader
  if (leader === undefined || leader === core.id || m.term < core.term) return
  if (v.vouched !== undefined && v.vouched.term >= m.term) return
  v.vouched = { leader, term: m.term }
  core.trace(RaftTraceEvent.LeaderVouched({ at: core.now, node: core.id, voucher: from, leader, term: m.term }))
}
