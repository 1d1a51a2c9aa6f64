/**
 * Membership changes by joint consensus (§6, thesis §4.3), with the safety rules that close the
 * single-server-change bug (B5, thesis §4.3 errata / raft-dev 2015):
 *
 * - one change at a time: refused while a change is pending, the latest config entry is
 *   uncommitted, or the configuration is joint;
 * - a new leader first commits an entry of its own term (its no-op) before it accepts a change;
 * - a configuration takes effect when appended (`RaftCore.adoptConfig`) and rolls back if that
 *   entry is truncated (`RaftCore.recomputeConfig`).
 *
 * A change that keeps the voter set (only learners move) is one `Simple(new)` entry. Otherwise the
 * leader appends `Joint(old, new)`; once that commits it appends `Simple(new)` — and so does a new
 * leader that inherits a committed joint configuration. A leader outside the final voter set keeps
 * leading (without counting itself) until that entry commits, then steps down (thesis §4.2.2).
 *
 * Learners receive every entry and snapshot but never vote, lead or count; a learner becomes a
 * voter only through such a change. A joiner started with no voters and itself as a learner
 * catches up from whichever leader adds it.
 *
 * A leaf (etcd's `confchange`): it decides whether a change may start and what the next
 * configuration is; the node (`Requests`, `Turn`, `LocalLog`) appends it and follows it.
 */
import type { ConfigPayload, Members } from "./Entries.js"
import type { NodeId } from "./Ids.js"
import type { RaftMessage } from "./Messages.js"
import { isMember } from "./Quorum.js"
import type { RaftLog } from "./RaftLog.js"
import type { RaftRole } from "./Tuning.js"

/** How a `changeMembership` request ends. */
export type MembershipOutcome =
  /** The final configuration entry committed; `config` is now in force. */
  | { readonly _tag: "Changed"; readonly config: Members }
  | { readonly _tag: "NotLeader"; readonly leader: NodeId | undefined; readonly reason: string }
  /** Another change is pending or unfinished, or this fresh leader has not committed in its term yet. Retryable. */
  | { readonly _tag: "InProgress" }
  | { readonly _tag: "LeadershipLost"; readonly reason: string }
  | { readonly _tag: "Invalid"; readonly reason: string }

export interface MembershipResolution {
  readonly handle: number
  readonly outcome: MembershipOutcome
}

/** The leader's change in flight: the joint entry is in the log; `finalIndex` once `Simple(new)` is. */
export interface PendingChange {
  readonly handle: number
  readonly term: number
  readonly target: Members
  finalIndex: number | undefined
}

const sameSet = <A>(a: ReadonlySet<A>, b: ReadonlySet<A>): boolean => a.size === b.size && [...a].every((x) => b.has(x))

/** Why `target` can never be a configuration, or undefined. */
export const invalidReason = (target: Members): string | undefined => {
  // Ids are checked against the id limit where they enter (the API's Schemas and `RaftNode`).
  if (target.voters.size === 0) return "a configuration needs at least one voter"
  for (const v of target.voters) if (target.learners.has(v)) return `${v} cannot be both a voter and a learner`
  return undefined
}

/** What `refusal` reads of the node. */
export interface ChangeView {
  readonly role: RaftRole
  readonly leader: NodeId | undefined
  readonly term: number
  readonly transfer: { readonly target: NodeId } | undefined
  readonly membershipChange: PendingChange | undefined
  readonly config: ConfigPayload
  readonly configIndex: number
  readonly commitIndex: number
  readonly log: RaftLog
}

/** Why a change to `target` cannot start now (the outcome to answer with), or `undefined` when it may. */
export const refusal = (node: ChangeView, target: Members): MembershipOutcome | undefined => {
  if (node.role !== "Leader") return { _tag: "NotLeader", leader: node.leader, reason: "only the leader changes membership" }
  if (node.transfer !== undefined) {
    // Thesis §3.10: a transferring leader takes no membership changes either.
    return { _tag: "NotLeader", leader: node.transfer.target, reason: "a leadership transfer is in flight" }
  }
  const invalid = invalidReason(target)
  if (invalid !== undefined) return { _tag: "Invalid", reason: invalid }
  if (
    node.membershipChange !== undefined ||
    node.config.old !== undefined ||
    node.configIndex > node.commitIndex ||
    // B5: a leader's own-term entry must commit first, so no config entry of an earlier term can
    // still be uncommitted elsewhere and be overtaken by ours.
    node.log.termAt(node.commitIndex) !== node.term
  ) {
    return { _tag: "InProgress" }
  }
  return undefined
}

/**
 * The entry that starts a change from `current` to `target`: `Simple(target)` when the voters stay
 * the same (only learners move), else `Joint(current, target)`.
 */
export const firstStep = (current: Members, target: Members): { readonly config: ConfigPayload; readonly simple: boolean } => {
  const simple = sameSet(current.voters, target.voters)
  return { config: simple ? { new: target } : { old: current, new: target }, simple }
}

/**
 * B10: we only ever ask members, so a vote or replication response from outside our configuration
 * is stale or unsolicited — typically from a removed node that never learned of its removal and has
 * since bumped its term. Adopting that term would let it depose a healthy leader; such frames are
 * refused (`ResponseNotExpected`). Requests are not gated here: the membership gate (`Trust.ts`)
 * decides who may send them.
 */
export const isUnsolicitedResponse = (config: ConfigPayload, from: NodeId, m: RaftMessage): boolean => {
  switch (m._tag) {
    case "AppendEntriesResponse":
    case "InstallSnapshotResponse":
    case "RequestVoteResponse":
    case "PreVoteResponse":
      return !isMember(config, from)
    default:
      return false
  }
}
