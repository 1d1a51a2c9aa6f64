/**
 * Engine glue for membership changes, kept out of `Engine.ts`: how the core's
 * `MembershipOutcome` becomes the caller's typed result.
 */
import { Effect } from "effect"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import {
  InvalidMembership,
  LeadershipLost,
  MembershipChangeInProgress,
  NotLeader
} from "../../../services/raft/RaftErrors.js"
import type { MembershipOutcome } from "../core/Membership.js"

/** What `changeMembership` returns: the configuration in force once the final entry committed. */
export type ChangeResult = Effect.Effect<
  ClusterConfig,
  NotLeader | MembershipChangeInProgress | LeadershipLost | InvalidMembership
>

export const changeResult = (o: MembershipOutcome): ChangeResult => {
  switch (o._tag) {
    case "Changed":
      return Effect.succeed(ClusterConfig.from(o.config))
    case "NotLeader":
      return Effect.fail(new NotLeader({ leader: o.leader, reason: o.reason }))
    case "InProgress":
      return Effect.fail(new MembershipChangeInProgress())
    case "LeadershipLost":
      return Effect.fail(new LeadershipLost({ reason: o.reason }))
    case "Invalid":
      return Effect.fail(new InvalidMembership({ reason: o.reason }))
  }
}
