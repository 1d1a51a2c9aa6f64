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
 *
 * A leaf: functions of the configuration and the vouching state; the node (`Dispatch`) refuses,
 * asks and records.
 */
import type { ConfigPayload } from "./Entries.js"
import type { RefusalGate } from "./Events.js"
import type { NodeId } from "./Ids.js"
import type { RaftMessage, Vouch } from "./Messages.js"
import { hasVoters, isMember, isVoterOf } from "./Quorum.js"

/** What the gate reads of a node: its id, its configuration in force and whom it joins through. */
export interface TrustView {
  readonly id: NodeId
  readonly config: ConfigPayload
  readonly joinVia: ReadonlySet<NodeId>
  readonly vouch: VouchState
}

/** Vouching state of one node: whom it asked, when, and the leader last vouched for. */
export class VouchState {
  /** The members asked in the latest round; a `Vouch` from anyone else is refused. */
  readonly asked = new Set<NodeId>()
  askedAt = -Infinity
  /** A leader a member vouched for, trusted at exactly `term`. */
  vouched: { readonly leader: NodeId; readonly term: number } | undefined = undefined

  /** Starts a round asking `targets` at `now`, unless one started less than `gap` ms ago; returns whether it did. */
  ask(now: number, gap: number, targets: ReadonlyArray<NodeId>): boolean {
    if (now < this.askedAt + gap || targets.length === 0) return false
    this.askedAt = now
    this.asked.clear()
    for (const id of targets) this.asked.add(id)
    return true
  }

  /**
   * A member we asked (`from`) answered `m`; our term is `term`. Returns the leader to trust from
   * now on at `m.term` (never below ours, never ourselves, never older than the last vouch), if any.
   */
  accept(from: NodeId, m: Vouch, self: NodeId, term: number): NodeId | undefined {
    this.asked.delete(from)
    const leader = m.leader
    if (leader === undefined || leader === self || m.term < term) return undefined
    if (this.vouched !== undefined && this.vouched.term >= m.term) return undefined
    this.vouched = { leader, term: m.term }
    return leader
  }
}

/** The nodes this node asks to vouch: the other members of its configuration, or its `joinVia` while it has no voters. */
export const anchors = (node: TrustView): Array<NodeId> => {
  const c = node.config
  const out = new Set<NodeId>()
  const add = (ids: Iterable<NodeId>) => {
    for (const id of ids) if (id !== node.id) out.add(id)
  }
  add(c.new.voters)
  add(c.new.learners)
  if (c.old !== undefined) {
    add(c.old.voters)
    add(c.old.learners)
  }
  if (!hasVoters(c)) add(node.joinVia)
  return [...out]
}

/**
 * Is `from` someone this node knows: a member of its configuration, or — while that has no voters
 * (a joiner) — one of the nodes it joins through?
 */
export const knows = (node: Pick<TrustView, "config" | "joinVia">, from: NodeId): boolean => {
  const c = node.config
  return isMember(c, from) || (!hasVoters(c) && node.joinVia.has(from))
}

/** May `from` act as leader of `term` towards this node? */
export const trustsLeader = (node: TrustView, from: NodeId, term: number): boolean => {
  if (knows(node, from)) return true
  const v = node.vouch.vouched
  return v !== undefined && v.leader === from && v.term === term
}

/** The gate `m` from `from` fails, or `undefined` when it may go on to its handler. */
export const gate = (node: TrustView, from: NodeId, m: RaftMessage): RefusalGate | undefined => {
  switch (m._tag) {
    case "AppendEntries":
    case "InstallSnapshot":
      return trustsLeader(node, from, m.term) ? undefined : "NotAMember"
    case "TimeoutNow":
      if (isVoterOf(node.config, from)) return undefined
      return isMember(node.config, from) ? "NotAVoter" : "NotAMember"
    case "RequestVote":
    case "PreVote":
    case "Forward":
    case "ReadIndexRequest":
    case "VouchRequest":
      return knows(node, from) ? undefined : "NotAMember"
    case "Vouch":
      return node.vouch.asked.has(from) ? undefined : "VouchNotAsked"
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
