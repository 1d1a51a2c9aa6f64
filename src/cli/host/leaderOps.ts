/**
 * Membership changes and leadership transfer, done on the leader among a process's nodes; shared
 * by both hosts (`LocalCluster`, `ServeHost`). When no local node leads, the caller is told where
 * the leader is (`NotLeaderHere`) so it can ask that server.
 */
import { Duration, Effect, Option } from "effect"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import { changeMembershipWithRetry } from "../../raft/changeMembershipWithRetry.js"
import { ChangeFailed, NotLeaderHere } from "../../dashboard/ClusterHost.js"
import type { LocalNode, MembershipError, Peer } from "../../dashboard/ClusterHost.js"

/** How long a membership change or a transfer may take before the caller is told it timed out. */
export const CHANGE_TIMEOUT = Duration.seconds(15)

/** The local node that leads, if any. */
export const localLeader = (nodes: ReadonlyArray<LocalNode>): Effect.Effect<RaftNodeShape | undefined> =>
  Effect.gen(function*() {
    for (const n of nodes) {
      if (n.kv !== undefined && (yield* n.kv.raft.role.get) === "Leader") return n.kv.raft
    }
    return undefined
  })

/** Where the leader is, as the local nodes believe. */
export const leaderHint = (nodes: ReadonlyArray<LocalNode>, peers: ReadonlyArray<Peer>): Effect.Effect<NotLeaderHere> =>
  Effect.gen(function*() {
    for (const n of nodes) {
      if (n.kv === undefined) continue
      const leader = yield* n.kv.raft.leader.get
      if (Option.isSome(leader)) {
        const peer = peers.find((p) => p.id === leader.value)
        return new NotLeaderHere({ leader: leader.value, url: peer?.url ?? null })
      }
    }
    return new NotLeaderHere({ leader: null, url: null })
  })

/** Runs `f` on the local leader, or fails with where the leader is. */
export const onLeader = <A>(
  nodes: ReadonlyArray<LocalNode>,
  peers: ReadonlyArray<Peer>,
  f: (leader: RaftNodeShape) => Effect.Effect<A, MembershipError>
): Effect.Effect<A, MembershipError> =>
  Effect.flatMap(localLeader(nodes), (leader) => (leader === undefined ? Effect.flatMap(leaderHint(nodes, peers), Effect.fail) : f(leader)))

/**
 * Changes the membership on `leader` to `next(current)` (retrying while another change is in
 * flight), bounded by `CHANGE_TIMEOUT`. `next` returns a `ChangeFailed` for a change that makes
 * no sense (unknown member, already a voter, ...).
 */
export const changeMembership = (
  leader: RaftNodeShape,
  next: (current: ClusterConfig) => ClusterConfig | ChangeFailed
): Effect.Effect<ClusterConfig, MembershipError> =>
  Effect.gen(function*() {
    const current = yield* leader.membership.get
    const target = next(current)
    if (target instanceof ChangeFailed) return yield* target
    // Already there (a retried request whose first attempt committed): nothing to change.
    if (sameConfig(current, target)) return current
    return yield* changeMembershipWithRetry(leader, target, { maxAttempts: 50, retryDelay: Duration.millis(200) }).pipe(
      Effect.timeoutFail({
        duration: CHANGE_TIMEOUT,
        onTimeout: () => new ChangeFailed({ reason: `the change did not commit within ${Duration.format(CHANGE_TIMEOUT)}`, retryable: true })
      }),
      Effect.catchTags({
        NotLeader: (e) => Effect.fail(new NotLeaderHere({ leader: e.leader ?? null, url: null })),
        MembershipChangeInProgress: (e) => Effect.fail(new ChangeFailed({ reason: e.message, retryable: true })),
        LeadershipLost: (e) => Effect.fail(new ChangeFailed({ reason: `${e.message} (the change may still complete)`, retryable: true })),
        InvalidMembership: (e) => Effect.fail(new ChangeFailed({ reason: `invalid membership: ${e.reason}`, retryable: false }))
      })
    )
  })

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size === b.size && [...a].every((x) => b.has(x))
const sameConfig = (a: ClusterConfig, b: ClusterConfig) => sameSet(a.voters, b.voters) && sameSet(a.learners, b.learners)

/**
 * The configuration with `id` added as a learner. Each of these targets is idempotent (asking
 * for what already holds changes nothing), so a client may retry a change that met a leader change.
 */
export const withLearner = (id: string) => (c: ClusterConfig): ClusterConfig | ChangeFailed =>
  c.learners.has(id as NodeId)
    ? c
    : c.voters.has(id as NodeId)
    ? new ChangeFailed({ reason: `${id} is already a voter`, retryable: false })
    : ClusterConfig.of(c.voters, [...c.learners, id])

/** The configuration with learner `id` made a voter. */
export const promoted = (id: string) => (c: ClusterConfig): ClusterConfig | ChangeFailed =>
  c.voters.has(id as NodeId)
    ? c
    : !c.learners.has(id as NodeId)
    ? new ChangeFailed({ reason: `${id} is not a learner (add it first: members add ${id})`, retryable: false })
    : ClusterConfig.of([...c.voters, id], [...c.learners].filter((l) => l !== id))

/** The configuration without `id`. */
export const without = (id: string) => (c: ClusterConfig): ClusterConfig | ChangeFailed =>
  !c.voters.has(id as NodeId) && !c.learners.has(id as NodeId)
    ? c
    : c.voters.has(id as NodeId) && c.voters.size === 1
    ? new ChangeFailed({ reason: `${id} is the last voter`, retryable: false })
    : ClusterConfig.of([...c.voters].filter((v) => v !== id), [...c.learners].filter((l) => l !== id))

/**
 * Transfers leadership from `leader` to `target`, or to the other voter with the highest match
 * index; returns the target once it leads.
 */
export const transferFrom = (leader: RaftNodeShape, target: string | undefined): Effect.Effect<string, MembershipError> =>
  Effect.gen(function*() {
    const config = yield* leader.membership.get
    let to = target
    if (to === undefined) {
      const health = yield* leader.health
      const voters = health.followers.filter((f) => config.voters.has(f.id)).sort((a, b) => b.matchIndex - a.matchIndex)
      to = voters[0]?.id
      if (to === undefined) return yield* new ChangeFailed({ reason: "there is no other voter to transfer to", retryable: false })
    }
    if (to === leader.id) return to
    const chosen = to
    yield* leader.transferLeadership(chosen as NodeId).pipe(
      Effect.catchTags({
        NotLeader: (e) => Effect.fail(new NotLeaderHere({ leader: e.leader ?? null, url: null })),
        MembershipChangeInProgress: (e) => Effect.fail(new ChangeFailed({ reason: e.message, retryable: true })),
        LeadershipTransferFailed: (e) =>
          Effect.fail(new ChangeFailed({ reason: `transfer to ${chosen} failed: ${e.reason}`, retryable: e.reason !== "InvalidTarget" }))
      })
    )
    return chosen
  })
