/**
 * Cluster membership (§4 / thesis ch. 4). Voters elect and count toward quorums; learners
 * receive the log and never vote, lead or count. `ConfigPayload` is what a config log entry
 * carries: `old` present means the joint configuration C_old,new (§6).
 */
import { Schema } from "effect"
import { NodeId } from "./NodeId.js"

/** A cluster membership: its voters and learners (both sets of `NodeId`). Build with `ofVoters` or `of`. */
export class ClusterConfig extends Schema.Class<ClusterConfig>("ClusterConfig")({
  voters: Schema.ReadonlySetFromSelf(NodeId),
  learners: Schema.ReadonlySetFromSelf(NodeId)
}) {
  /** A configuration of voters only. */
  static ofVoters(...voters: ReadonlyArray<string>): ClusterConfig {
    return new ClusterConfig({ voters: new Set(voters.map((v) => NodeId.make(v))), learners: new Set() })
  }

  /** A configuration with the given voters and learners. */
  static of(voters: Iterable<string>, learners: Iterable<string> = []): ClusterConfig {
    return new ClusterConfig({
      voters: new Set([...voters].map((v) => NodeId.make(v))),
      learners: new Set([...learners].map((v) => NodeId.make(v)))
    })
  }

  /** Votes needed for a majority of the voters. */
  get quorumSize(): number {
    return Math.floor(this.voters.size / 2) + 1
  }

  /** Voters and learners. */
  get allMembers(): ReadonlySet<NodeId> {
    return new Set([...this.voters, ...this.learners])
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id)
  }

  isMember(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id)
  }

  /** A copy with `learner` added as a learner. */
  withLearner(learner: string): ClusterConfig {
    return ClusterConfig.of(this.voters, [...this.learners, learner])
  }

  /** Structural equality on the two sets. */
  sameAs(other: ClusterConfig): boolean {
    return sameSet(this.voters, other.voters) && sameSet(this.learners, other.learners)
  }
}

/** The membership carried by a config entry; `old` present = joint consensus C_old,new. */
export class ConfigPayload extends Schema.Class<ConfigPayload>("ConfigPayload")({
  old: Schema.optionalWith(ClusterConfig, { exact: true }),
  new: ClusterConfig
}) {
  get isJoint(): boolean {
    return this.old !== undefined
  }
}

const sameSet = <A>(a: ReadonlySet<A>, b: ReadonlySet<A>): boolean => {
  if (a.size !== b.size) return false
  for (const x of a) if (!b.has(x)) return false
  return true
}
