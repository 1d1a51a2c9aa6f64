/**
 * A proposal that outlives failovers: each attempt sends the same dedup key (client id and
 * `requestId`), so whatever happened to earlier attempts — lost with a server, stranded by a
 * leader change, unanswered — the command commits once (the leader's dedup cache answers a key it
 * holds; after a failover the consumer's `ClientSessionTable` drops a second copy).
 *
 * An attempt ends with the entry, or is retried after `LeadershipLost` (outcome unknown), after
 * `attemptTimeout` (an answer can be lost with a frame while the leader stays the same), or once
 * the client is attached and admitted again. A slow cluster is not a dead server: each timeout in a
 * row doubles the next attempt's budget (up to 4×), and only the second timeout in a row calls
 * `onAttemptTimeout` (the client leaves its server then), so a crowd of clients on a busy cluster
 * does not abandon its servers and add re-joins to the load. Past `timeout` the call fails with
 * `ProposeTimedOut`: the outcome is unknown, and the same `requestId` may be retried.
 */
import { Clock, Duration, Effect, Either } from "effect"
import { ClientClosed, ProposeTimedOut } from "../../services/cluster/ClusterErrors.js"
import type { AdmissionRefused } from "../../services/cluster/ClusterErrors.js"
import type { CommandEntry } from "../../services/raft/LogEntry.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import type { PayloadTooLarge } from "../../services/raft/RaftErrors.js"

export interface ProposeRetryOptions {
  readonly requestId: number
  readonly timeout: Duration.Duration
  readonly attemptTimeout: Duration.Duration
  /** Waits until an attempt may be sent (attached and admitted), or fails for good. */
  readonly ready: Effect.Effect<void, AdmissionRefused | ClientClosed>
  /** Called when an attempt timed out (a client moves to another server then). */
  readonly onAttemptTimeout: () => void
}

export const proposeWithRetry = (
  node: RaftNodeShape,
  command: Uint8Array,
  o: ProposeRetryOptions
): Effect.Effect<CommandEntry, ProposeTimedOut | AdmissionRefused | ClientClosed | PayloadTooLarge> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(o.timeout)
    let attempts = 0
    let timeoutsInRow = 0
    const timedOut = () => new ProposeTimedOut({ requestId: o.requestId, attempts })
    while (true) {
      const left = deadline - (yield* Clock.currentTimeMillis)
      if (left <= 0) return yield* timedOut()
      const ready = yield* o.ready.pipe(Effect.timeout(Duration.millis(left)), Effect.either)
      if (Either.isLeft(ready)) {
        if (ready.left._tag === "TimeoutException") return yield* timedOut()
        return yield* ready.left
      }
      attempts++
      const budget = Math.min(Duration.toMillis(o.attemptTimeout) * 2 ** Math.min(2, timeoutsInRow), deadline - (yield* Clock.currentTimeMillis))
      const result = yield* node.propose(command, { requestId: o.requestId }).pipe(
        Effect.timeout(Duration.millis(Math.max(1, budget))),
        Effect.either
      )
      if (Either.isRight(result)) return result.right
      const e = result.left
      switch (e._tag) {
        case "TimeoutException":
          if (++timeoutsInRow >= 2) o.onAttemptTimeout()
          continue
        case "LeadershipLost":
          timeoutsInRow = 0
          continue
        case "NotLeader":
          // A proposal from any role is only refused this way by a closed node.
          return yield* new ClientClosed({ reason: e.reason })
        case "PayloadTooLarge":
          return yield* e
      }
    }
  })
