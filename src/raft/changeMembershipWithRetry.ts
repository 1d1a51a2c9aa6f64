/**
 * `changeMembershipWithRetry`: `changeMembership` that waits out the retryable refusal.
 */
import { Effect, Schedule } from "effect"
import type { Duration } from "effect"
import type { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type {
  InvalidMembership,
  LeadershipLost,
  MembershipChangeInProgress,
  NotLeader
} from "../../services/raft/RaftErrors.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"

/** How often and how far apart `changeMembershipWithRetry` retries on `MembershipChangeInProgress`. */
export interface ChangeMembershipRetryOptions {
  /** Calls in all, the first included (default 20). */
  readonly maxAttempts?: number
  /** Pause between calls (default 200 ms; `Effect.sleep`, so `TestClock` drives it). */
  readonly retryDelay?: Duration.DurationInput
}

/**
 * Calls `node.changeMembership(target)`, retrying only on `MembershipChangeInProgress` (a change
 * still in flight, an unfinished joint phase, or a fresh leader that has not committed in its term
 * yet) up to `maxAttempts` calls `retryDelay` apart. Gives up with that last
 * `MembershipChangeInProgress`; any other failure (`NotLeader`, `LeadershipLost`,
 * `InvalidMembership`) is returned at once.
 */
export const changeMembershipWithRetry = (
  node: RaftNodeShape,
  target: ClusterConfig,
  options: ChangeMembershipRetryOptions = {}
): Effect.Effect<ClusterConfig, NotLeader | MembershipChangeInProgress | LeadershipLost | InvalidMembership> =>
  node.changeMembership(target).pipe(
    Effect.retry({
      schedule: Schedule.spaced(options.retryDelay ?? "200 millis"),
      times: Math.max(0, (options.maxAttempts ?? 20) - 1),
      while: (e) => e._tag === "MembershipChangeInProgress"
    })
  )
