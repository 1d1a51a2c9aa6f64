/**
 * Membership and quorum invariants (reference §4.2 #6 and #8), checked at every step of a leader:
 *
 * - `ElectedByVoterQuorum`: a new leader holds a majority of its voters (of both halves while
 *   joint) among the nodes that granted it a vote in its term — as the grants appear in the
 *   `VoteGranted` trace, plus itself. A vote from a learner or a stranger never counts (B10).
 * - `RemovedNeverLeads`: once a configuration that drops a node as voter is committed, that node
 *   never leads a later term, unless a newer configuration in its own log re-adds it.
 * - `OneUncommittedConfig`: a leader's log holds at most one configuration entry above the
 *   highest commit index any node knows (one change at a time; the final `C_new` only after
 *   `C_old,new` committed; B5). Not above the leader's OWN commit index: a fresh leader learns
 *   that its predecessors' changes committed only once its no-op commits.
 * - `CommittedOnQuorum`: when a leader's commit index advances, the entry there is held by a
 *   majority of the voters of the configuration that committed it (both halves while joint).
 *   A node whose identity was retired after it lost writes counts as holding it: its
 *   acknowledgements are exactly what the disk-loss model allows to vanish.
 *
 * The quorum arithmetic is written out here again rather than imported from the core, so a bug
 * in the core's counting cannot hide itself.
 */
import type { ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RaftCore } from "../../raft/core/RaftCore.js"
import { describeConfig } from "./Invariants.js"
import type { InvariantChecker } from "./Invariants.js"
import type { SimCluster, SimNode, SimObserver } from "./SimCluster.js"

const majority = (voters: ReadonlySet<NodeId>, yes: (id: NodeId) => boolean): boolean => {
  let n = 0
  for (const v of voters) if (yes(v)) n++
  return 2 * n > voters.size
}

const quorum = (c: ConfigPayload, yes: (id: NodeId) => boolean): boolean =>
  majority(c.new.voters, yes) && (c.old === undefined || majority(c.old.voters, yes))

const isVoterIn = (c: ConfigPayload, id: NodeId): boolean =>
  c.new.voters.has(id) || (c.old !== undefined && c.old.voters.has(id))

export class MembershipInvariants implements SimObserver {
  /** `${term}/${candidate}` → who granted it a vote in that term. */
  private readonly grants = new Map<string, Set<NodeId>>()
  /** node → the term it leads, while it leads. */
  private readonly leading = new Map<NodeId, number>()
  /** leader → the commit index last checked for `CommittedOnQuorum`. */
  private readonly checkedCommit = new Map<NodeId, number>()
  /** leader → `${lastIndex}/${commitIndex}` when `OneUncommittedConfig` last looked. */
  private readonly checkedConfigs = new Map<NodeId, string>()
  elections = 0

  constructor(private readonly cluster: SimCluster, private readonly base: InvariantChecker) {}

  onStart(node: SimNode): void {
    this.leading.delete(node.id)
  }

  onTrace(_node: SimNode, events: ReadonlyArray<RaftTraceEvent>): void {
    for (const e of events) {
      if (e._tag !== "VoteGranted") continue
      const key = `${e.term}/${e.to}`
      let s = this.grants.get(key)
      if (s === undefined) this.grants.set(key, s = new Set())
      s.add(e.from)
    }
  }

  onStep(node: SimNode): void {
    const core = node.core
    if (core === undefined || core.role !== "Leader") {
      this.leading.delete(node.id)
      return
    }
    if (this.leading.get(node.id) !== core.term) {
      this.leading.set(node.id, core.term)
      this.checkedCommit.set(node.id, core.commitIndex)
      this.elections++
      this.checkElection(core)
      this.checkRemoved(core)
    }
    this.checkConfigs(core)
    this.checkCommit(core)
  }

  private checkElection(core: RaftCore): void {
    const granted = this.grants.get(`${core.term}/${core.id}`) ?? new Set<NodeId>()
    this.grants.delete(`${core.term}/${core.id}`)
    if (!quorum(core.config, (id) => id === core.id || granted.has(id))) {
      this.base.fail(
        "ElectedByVoterQuorum",
        `${core.id} leads term ${core.term} with votes from {${[...granted].sort().join(",")}} under ${describeConfig(core.config)}`
      )
    }
  }

  private checkRemoved(core: RaftCore): void {
    const latest = this.base.oracle.latestConfig
    if (latest === undefined || isVoterIn(latest.config, core.id)) return
    // A stale leader of a term no later than the removal's commit is legal (it cannot commit).
    if (core.term <= this.base.commitTermOf(latest.index)) return
    if (core.configIndex > latest.index && isVoterIn(core.config, core.id)) return
    this.base.fail(
      "RemovedNeverLeads",
      `${core.id} leads term ${core.term} although ${describeConfig(latest.config)} (committed at ${latest.index}) removed it`
    )
  }

  private checkConfigs(core: RaftCore): void {
    const key = `${core.log.lastIndex}/${core.commitIndex}`
    if (this.checkedConfigs.get(core.id) === key) return
    this.checkedConfigs.set(core.id, key)
    let count = 0
    const floor = Math.max(core.commitIndex, this.base.maxCommit)
    for (let i = core.log.lastIndex; i > floor && i > core.log.snapshotIndex; i--) {
      if (core.log.entry(i)!._tag === "Config") count++
    }
    if (count > 1) this.base.fail("OneUncommittedConfig", `${core.id} (leader of term ${core.term}) holds ${count} configuration entries above the commit index ${floor}`)
  }

  private checkCommit(core: RaftCore): void {
    const c = core.commitIndex
    if (c <= (this.checkedCommit.get(core.id) ?? 0)) return
    this.checkedCommit.set(core.id, c)
    const term = core.log.termAt(c)
    if (term === undefined) return
    const holds = (id: NodeId): boolean => {
      const n = this.cluster.nodes.get(id)
      if (n === undefined) return false
      if (n.retired) return true
      if (n.core !== undefined) return n.core.log.snapshotIndex >= c || n.core.log.termAt(c) === term
      const d = n.disk.currentState()
      if (d.snapshot !== null && d.snapshot.meta.lastIncludedIndex >= c) return true
      return d.entries.some((e) => e.index === c && e.term === term)
    }
    if (!quorum(core.config, holds)) {
      this.base.fail(
        "CommittedOnQuorum",
        `${core.id} committed ${c} (term ${term}) but no voter quorum of ${describeConfig(core.config)} holds it`
      )
    }
  }
}
