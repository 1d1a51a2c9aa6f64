/**
 * The runner table's clock: while this node leads, it proposes a `Tick` every `interval`, carrying
 * the time elapsed on its own monotonic clock since the previous accepted tick — measured from its
 * own stamp when that tick was its own, else from when this node applied it. Lock and heartbeat
 * expiry are judged on the sum of the accepted ticks, never on a proposer's wall clock.
 *
 * Why this is safe for leases: each accepted tick names the tick it was measured from (`after`),
 * and a tick measured from anything but the latest accepted one moves nothing (`RunnerTable`), so
 * intervals never overlap, even when a deposed leader's tick commits late. Measuring from the
 * moment a tick was applied (after it was stamped) can only under-count, so table time runs at or
 * behind real time: a lock may live a little longer than its expiration, never shorter. Time with
 * no leader is not lost: the next leader's first tick covers it.
 */
import { Clock, Duration, Effect, Schedule } from "effect"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import { encodeCommand } from "./RunnerCommand.js"
import type { RunnerTableReplica } from "./RunnerTableReplica.js"

const NANOS_PER_MILLI = 1_000_000n

/**
 * Runs forever: waits for leadership, then ticks until a proposal fails (leadership moved),
 * then waits again. Meant to be forked in the storage's scope.
 */
export const run = (node: RaftNodeShape, replica: RunnerTableReplica, interval: Duration.Duration): Effect.Effect<never> => {
  /** This node's last tick: its index once committed, and when it was stamped. */
  let own: { readonly index: number; readonly stampedAtNanos: bigint } | undefined

  const tick = Effect.gen(function*() {
    const role = yield* node.role.get
    if (role !== "Leader") return false
    const last = replica.lastTick()
    const now = yield* Clock.currentTimeNanos
    const from = own !== undefined && own.index === last.index ? own.stampedAtNanos : last.appliedAtNanos
    const elapsedMs = now > from ? Number((now - from) / NANOS_PER_MILLI) : 0
    const entry = yield* node.propose(encodeCommand({ _tag: "Tick", elapsedMs, after: last.index }))
    own = { index: entry.index, stampedAtNanos: now }
    // One tick in flight: the next one is measured from this one, once applied here.
    yield* replica.awaitApplied(entry.index)
    return true
  }).pipe(Effect.catchAll(() => Effect.succeed(false)))

  const whileLeading = Effect.repeat(
    Effect.zipRight(Effect.sleep(interval), tick),
    { while: (ticked) => ticked }
  )

  return node.awaitLeadership.pipe(
    Effect.zipRight(whileLeading),
    // After leadership moved: pause a moment before waiting for it again.
    Effect.zipRight(Effect.sleep(Duration.millis(10))),
    Effect.repeat(Schedule.forever),
    Effect.zipRight(Effect.never)
  )
}
