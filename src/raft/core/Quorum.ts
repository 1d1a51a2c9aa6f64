/**
 * Quorum arithmetic over voter sets, including the joint configuration of §6 where a decision
 * needs a majority of C_old AND of C_new (learners never count), and who belongs to a
 * configuration. A leaf: plain functions of a configuration.
 */
import type { ConfigPayload } from "./Entries.js"
import type { NodeId } from "./Ids.js"

/** Scratch space of `majorityIndex` (it runs on every acknowledgement; no allocation per call). */
let scratch: Array<number> = new Array(16).fill(0)

/** The highest index that a majority of `voters` have matched (`matchOf` gives each voter's). */
export const majorityIndex = (voters: ReadonlySet<NodeId>, matchOf: (id: NodeId) => number): number => {
  const n = voters.size
  if (n === 0) return 0
  if (scratch.length < n) scratch = new Array(n).fill(0)
  const values = scratch
  // Insertion sort, descending: voter sets are small, and `Array.prototype.sort` allocates.
  let count = 0
  for (const v of voters) {
    const x = matchOf(v)
    let i = count++
    while (i > 0 && values[i - 1]! < x) {
      values[i] = values[i - 1]!
      i--
    }
    values[i] = x
  }
  return values[Math.floor(n / 2)]!
}

/** The committed index under `config`: the lower of both majorities while joint. */
export const quorumIndex = (config: ConfigPayload, matchOf: (id: NodeId) => number): number => {
  const inNew = majorityIndex(config.new.voters, matchOf)
  return config.old === undefined ? inNew : Math.min(inNew, majorityIndex(config.old.voters, matchOf))
}

/** True when `yes` holds a majority of `voters`. */
export const hasMajority = (voters: ReadonlySet<NodeId>, yes: (id: NodeId) => boolean): boolean => {
  let count = 0
  for (const v of voters) if (yes(v)) count++
  return count >= Math.floor(voters.size / 2) + 1
}

/** True when `yes` holds a majority of every voter set in force (both while joint). */
export const hasQuorum = (config: ConfigPayload, yes: (id: NodeId) => boolean): boolean =>
  hasMajority(config.new.voters, yes) && (config.old === undefined || hasMajority(config.old.voters, yes))

/** Every voter of the configuration (union of both sets while joint). */
export const allVoters = (config: ConfigPayload): ReadonlySet<NodeId> =>
  config.old === undefined ? config.new.voters : new Set([...config.old.voters, ...config.new.voters])

/** Every node that must receive the log: all voters and learners of both halves. */
export const allReplicas = (config: ConfigPayload): ReadonlySet<NodeId> => {
  const s = new Set<NodeId>([...config.new.voters, ...config.new.learners])
  if (config.old !== undefined) {
    for (const id of config.old.voters) s.add(id)
    for (const id of config.old.learners) s.add(id)
  }
  return s
}

/** Is `id` a voter or learner of either half of `config`? */
export const isMember = (config: ConfigPayload, id: NodeId): boolean =>
  config.new.voters.has(id) || config.new.learners.has(id) ||
  (config.old !== undefined && (config.old.voters.has(id) || config.old.learners.has(id)))

/** Is `id` a voter of either half of `config`? */
export const isVoterOf = (config: ConfigPayload, id: NodeId): boolean =>
  config.new.voters.has(id) || (config.old !== undefined && config.old.voters.has(id))

/** Whether `config` has any voter (a joiner's bootstrap has none). */
export const hasVoters = (config: ConfigPayload): boolean =>
  config.new.voters.size > 0 || (config.old !== undefined && config.old.voters.size > 0)

/** Whether `id` is the only voter of a non-joint `config`: it needs nobody's permission to lead or commit. */
export const isSoleVoter = (config: ConfigPayload, id: NodeId): boolean =>
  config.old === undefined && config.new.voters.size === 1 && config.new.voters.has(id)
