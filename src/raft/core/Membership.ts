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
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import { idProblem } from "../../../services/IdLimit.js"
import { ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import { Progress } from "./Progress.js"
import { allReplicas } from "./Quorum.js"
import type { RaftCore } from "./RaftCore.js"
import { appendLocal } from "./LocalLog.js"
import { becomeFollower } from "./Roles.js"
import { resetElectionTimer } from "./Timers.js"
import * as Replication from "./Replication.js"
import * as Transfer from "./Transfer.js"

/** How a `changeMembership` request ends. */
export type MembershipOutcome =
  /** The final configuration entry committed; `config` is now in force. */
  | { readonly _tag: "Changed"; readonly config: ClusterConfig }
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
  readonly target: ClusterConfig
  finalIndex: number | undefined
}

const resolve = (core: RaftCore, handle: number, outcome: MembershipOutcome): void => {
  core.ready.membership.push({ handle, outcome })
}

const sameSet = <A>(a: ReadonlySet<A>, b: ReadonlySet<A>): boolean => a.size === b.size && [...a].every((x) => b.has(x))

/** Why `target` can never be a configuration, or undefined. */
export const invalidReason = (target: ClusterConfig): string | undefined => {
  if (target.voters.size === 0) return "a configuration needs at least one voter"
  for (const id of [...target.voters, ...target.learners]) {
    const p = idProblem(id)
    if (p !== undefined) return `member id ${JSON.stringify(String(id).slice(0, 64))} ${p}`
  }
  for (const v of target.voters) if (target.learners.has(v)) return `${v} cannot be both a voter and a learner`
  return undefined
}

/**
 * Starts a change to `target`; the outcome arrives as a `MembershipResolution` for `handle`
 * (immediately for a refusal, when the final entry commits otherwise).
 */
export const request = (core: RaftCore, handle: number, target: ClusterConfig): void => {
  if (core.role !== "Leader") {
    return resolve(core, handle, { _tag: "NotLeader", leader: core.leader, reason: "only the leader changes membership" })
  }
  if (Transfer.inFlight(core)) {
    // Thesis §3.10: a transferring leader takes no membership changes either.
    return resolve(core, handle, { _tag: "NotLeader", leader: core.transfer?.target, reason: "a leadership transfer is in flight" })
  }
  if (core.transfer !== undefined) {
    // Thesis §3.10: a transferring leader takes no new entries; retry on the target.
    return resolve(core, handle, { _tag: "NotLeader", leader: core.transfer.target, reason: "a leadership transfer is in flight" })
  }
  const invalid = invalidReason(target)
  if (invalid !== undefined) return resolve(core, handle, { _tag: "Invalid", reason: invalid })
  if (
    core.membershipChange !== undefined ||
    core.config.old !== undefined ||
    core.configIndex > core.commitIndex ||
    // B5: a leader's own-term entry must commit first, so no config entry of an earlier term can
    // still be uncommitted elsewhere and be overtaken by ours.
    core.log.termAt(core.commitIndex) !== core.term
  ) {
    return resolve(core, handle, { _tag: "InProgress" })
  }
  const current = core.config.new
  const index = core.log.lastIndex + 1
  const simple = sameSet(current.voters, target.voters)
  const config = simple ? new ConfigPayload({ new: target }) : new ConfigPayload({ old: current, new: target })
  core.membershipChange = { handle, term: core.term, target, finalIndex: simple ? index : undefined }
  appendLocal(core, { _tag: "Config", index, term: core.term, config })
}

/**
 * End-of-turn bookkeeping, before the turn's appends are replicated: completes a committed joint
 * configuration, resolves a finished change, and steps down a leader the final configuration
 * left out. Also fails a pending change whose leader lost its term.
 */
export const onTurnEnd = (core: RaftCore): void => {
  const pending = core.membershipChange
  if (pending !== undefined && (core.role !== "Leader" || core.term !== pending.term)) {
    core.membershipChange = undefined
    resolve(core, pending.handle, { _tag: "LeadershipLost", reason: "leadership was lost before the membership change committed" })
  }
  if (core.role !== "Leader") return
  if (core.config.old !== undefined && core.configIndex <= core.commitIndex) {
    // §6: C_old,new is committed; now C_new alone.
    const index = core.log.lastIndex + 1
    appendLocal(core, { _tag: "Config", index, term: core.term, config: new ConfigPayload({ new: core.config.new }) })
    if (core.membershipChange !== undefined) core.membershipChange.finalIndex = index
  }
  const p = core.membershipChange
  if (p !== undefined && p.finalIndex !== undefined && p.finalIndex <= core.commitIndex) {
    core.membershipChange = undefined
    resolve(core, p.handle, { _tag: "Changed", config: p.target })
  }
  if (core.config.old === undefined && core.configIndex <= core.commitIndex && !core.config.new.voters.has(core.id)) {
    // Thesis §4.2.2: tell the followers the final entry committed, then leave.
    Replication.heartbeat(core)
    becomeFollower(core, "RemovedFromConfig", undefined)
  }
}

/** Is `id` a voter or learner of either half of `config`? */
export const isMember = (config: ConfigPayload, id: NodeId): boolean =>
  config.new.voters.has(id) || config.new.learners.has(id) ||
  (config.old !== undefined && (config.old.voters.has(id) || config.old.learners.has(id)))

/**
 * B10: we only ever ask members, so a vote or replication response from outside our configuration
 * is stale or unsolicited — typically from a removed node that never learned of its removal and has
 * since bumped its term. Adopting that term would let it depose a healthy leader; such frames are
 * refused (`ResponseNotExpected`). Requests are not gated: a candidate of a configuration we have not
 * learned yet must still get our vote, and a joiner must accept its first leader.
 */
export const isUnsolicitedResponse = (core: RaftCore, from: NodeId, m: RaftMessage): boolean => {
  switch (m._tag) {
    case "AppendEntriesResponse":
    case "InstallSnapshotResponse":
    case "RequestVoteResponse":
    case "PreVoteResponse":
      return !isMember(core.config, from)
    default:
      return false
  }
}

/**
 * The membership in force changed (append, install or rollback): trace it, keep a leader's
 * progress map in step (new members probed from the end of the log, departed ones dropped), and
 * move a non-leader between Follower and Learner.
 */
export const onConfigAdopted = (core: RaftCore): void => {
  const c = core.config
  core.trace(RaftTraceEvent.ConfigChange({ at: core.now, node: core.id, index: core.configIndex, old: c.old, new: c.new }))
  if (core.role === "Leader") {
    const members = allReplicas(c)
    for (const id of members) {
      if (id !== core.id && !core.progress.has(id)) core.progress.set(id, new Progress(Math.max(1, core.log.lastIndex)))
    }
    for (const id of [...core.progress.keys()]) if (!members.has(id)) core.progress.delete(id)
    return
  }
  const voter = core.isVoter
  if (core.role === "Learner" && voter) {
    // Promoted: a full election timeout before it may campaign.
    core.role = "Follower"
    resetElectionTimer(core)
  } else if (core.role !== "Learner" && !voter) {
    // Demoted or removed (or a rollback undid a promotion): never campaign again under this config.
    if (core.role === "Candidate" || core.preVote !== undefined) becomeFollower(core, "RemovedFromConfig", core.leader)
    else core.role = "Learner"
  }
}
