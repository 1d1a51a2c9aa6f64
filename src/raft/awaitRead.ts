/**
 * `awaitRead`: a linearizable read point for the caller's own state machine, from any role
 * (thesis §6.4 and §6.4.1).
 */
import { Effect, Option, Stream } from "effect"
import type { Subscribable } from "effect"
import { LeadershipLost } from "../../services/raft/RaftErrors.js"
import type { NotLeader } from "../../services/raft/RaftErrors.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"

/**
 * Gets a read fence (`node.readFence`: the leader confirms itself; a follower or learner asks the
 * leader) and waits until `applied` — the index the caller's state machine has applied through,
 * counting `Committed.Internal` and `Install` items too — reaches it. Returns the fence: reading
 * the state machine now sees every write that completed before the call began.
 *
 * Fails as `readFence` does (`NotLeader` on a closed node, `LeadershipLost` when leadership moved
 * while the fence was being confirmed: retry), and with `LeadershipLost` if `applied` stops
 * changing for good (its stream ends) below the fence. Interrupt it to give up.
 */
export const awaitRead = (
  node: RaftNodeShape,
  applied: Subscribable.Subscribable<number>
): Effect.Effect<number, NotLeader | LeadershipLost> =>
  Effect.gen(function*() {
    const fence = yield* node.readFence
    if ((yield* applied.get) >= fence) return fence
    const reached = yield* applied.changes.pipe(Stream.filter((n) => n >= fence), Stream.runHead)
    if (Option.isNone(reached) && (yield* applied.get) < fence) {
      return yield* new LeadershipLost({ reason: `the applied index stopped below the read fence ${fence}` })
    }
    return fence
  })
