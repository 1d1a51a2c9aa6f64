/**
 * Cluster membership (§4 / thesis ch. 4). Voters elect and count toward quorums; learners
 * receive the log and never vote, lead or count.
 *
 * `Members` is the plain shape everything below the API deals in — `{ voters, learners }`, the
 * same type the Raft core declares (`src/raft/core/Entries.ts`) — and `ConfigPayload` is what a
 * config log entry carries (`old` present means the joint configuration C_old,new, §6).
 * `ClusterConfig` is the class applications build configurations with: it IS a `Members` (pass it
 * wherever one is expected), with helpers on top; `ClusterConfig.from` turns any `Members` into one.
 */
import { Schema } from "effect"
import { NodeId } from "./NodeId.js"

/** One configuration's members, as plain sets. */
export const Members = Schema.Struct({
  voters: Schema.ReadonlySetFromSelf(NodeId),
  learners: Schema.ReadonlySetFromSelf(NodeId)
})
export type Members = typeof Members.Type

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

  /**
   * The same members as a `ClusterConfig` (itself when it already is one). The sets are shared,
   * not copied, and not re-validated: `m` comes from the node (its log or a decoded frame).
   */
  static from(m: Members): ClusterConfig {
    return m instanceof ClusterConfig ? m : new ClusterConfig({ voters: m.voters, learners: m.learners }, { disableValidation: true })
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
  sameAs(other: Members): boolean {
    return sameMembers(this, other)
  }
}

/** The membership carried by a config entry; `old` present = joint consensus C_old,new (§6). Plain objects. */
export const ConfigPayload = Schema.Struct({
  old: Schema.optionalWith(Members, { exact: true }),
  new: Members
})
export type ConfigPayload = typeof ConfigPayload.Type

/** Whether `c` is the joint configuration C_old,new (§6). */
export const isJoint = (c: ConfigPayload): boolean => c.old !== undefined

/** Whether `a` and `b` list the same voters and the same learners. */
export const sameMembers = (a: Members, b: Members): boolean => sameSet(a.voters, b.voters) && sameSet(a.learners, b.learners)

const sameSet = <A>(a: ReadonlySet<A>, b: ReadonlySet<A>): boolean => {
  if (a.size !== b.size) return false
  for (const x of a) if (!b.has(x)) return false
  return true
}
