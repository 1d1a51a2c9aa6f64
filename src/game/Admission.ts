/**
 * The host's admission loop (the last steps of `gameHost.ts`). It seats players one at
 * a time — first as a learner, and only once that learner has caught up, as a voter — until the
 * roster has `peerCount` voters, then publishes "admission closed" with the final voters. Adding
 * a voter that still lags would stall commits until it caught up (thesis §4.2.1: new servers join
 * as non-voting members first), and one change at a time is all Raft allows anyway (§6).
 *
 * Spectators (when the host takes them) become learners and stay learners.
 *
 * The loop runs on the host for the life of its session and only acts while the host's node
 * leads; a membership change that fails (the leader lost its term, a change still in flight) is
 * logged and retried on the next pass. A learner that does not catch up within `catchUpTimeout`
 * (it left, or is stuck) is removed again and sits out for as long again (or until its presence
 * slot changes), so the next joiner gets its chance first.
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { PeerId } from "../../services/seam/PeerId.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import { changeMembershipWithRetry } from "../raft/changeMembershipWithRetry.js"
import type { Presence, PresenceSlot } from "./Presence.js"
import { awaitChange } from "./watch.js"

export interface AdmissionOptions {
  readonly peerCount: number
  readonly maxSpectators: number
  readonly catchUpTimeout: Duration.DurationInput
  /** Pause after a failed pass before the next one. */
  readonly retryDelay: Duration.DurationInput
  /** Told the voter set each time a promotion has committed (the final config entry included). */
  readonly onSeated: (voters: ReadonlySet<string>) => Effect.Effect<void>
}

const sortedIds = (ids: Iterable<string>) => [...ids].sort()

const without = (ids: Iterable<string>, id: string) => [...ids].filter((x) => x !== id)

/** Runs the admission loop until interrupted (by the session's scope closing). */
export const runAdmission = (node: RaftNodeShape, presence: Presence, options: AdmissionOptions): Effect.Effect<never> =>
  Effect.gen(function*() {
    const seatedSpectators = new Set<string>()
    /** Learners that failed to catch up: the slot they had then, and until when they sit out. */
    const skipped = new Map<PeerId, { readonly slot: PresenceSlot; readonly until: number }>()
    let closedAnnounced = false

    const seatPlayer = (id: PeerId) =>
      Effect.gen(function*() {
        const before = yield* node.membership.get
        if (!(before.learners as ReadonlySet<string>).has(id)) {
          yield* changeMembershipWithRetry(node, ClusterConfig.of(before.voters, [...before.learners, id]))
        }
        // Caught up = the learner reports (on presence) a commit index at least the one the host
        // had once the learner's config entry committed, so it holds that entry and all before it.
        const target = yield* node.commitIndex.get
        const caughtUp = yield* presence.awaitMatch((slots) => {
          const slot = slots.get(id)
          return slot !== undefined && slot.t === "present" && slot.commit >= target ? true : undefined
        }).pipe(Effect.timeoutOption(options.catchUpTimeout))
        const now = yield* node.membership.get
        if (Option.isNone(caughtUp)) {
          const slot = (yield* presence.slots.get).get(id)
          const until = (yield* Clock.currentTimeMillis) + Duration.toMillis(options.catchUpTimeout)
          if (slot !== undefined) skipped.set(id, { slot, until })
          yield* Effect.logInfo(`admission: ${id} did not catch up as a learner; removing it`)
          yield* changeMembershipWithRetry(node, ClusterConfig.of(now.voters, without(now.learners, id)))
          return
        }
        const seated = yield* changeMembershipWithRetry(
          node,
          ClusterConfig.of([...now.voters, id], without(now.learners, id))
        )
        yield* options.onSeated(seated.voters)
        yield* Effect.logDebug(`admission: ${id} seated as a voter`)
      })

    const seatSpectator = (id: PeerId) =>
      Effect.gen(function*() {
        const now = yield* node.membership.get
        yield* changeMembershipWithRetry(node, ClusterConfig.of(now.voters, [...now.learners, id]))
        seatedSpectators.add(id)
      })

    const pass = Effect.gen(function*() {
      yield* node.awaitLeadership
      const slots = yield* presence.slots.get
      const membership = yield* node.membership.get
      const full = membership.voters.size >= options.peerCount
      if (full && !closedAnnounced) {
        yield* presence.set({
          t: "closed",
          voters: sortedIds(membership.voters),
          spectators: options.maxSpectators > 0
        })
        closedAnnounced = true
      }
      const now = yield* Clock.currentTimeMillis
      for (const [id, skip] of skipped) if (slots.get(id) !== skip.slot || now >= skip.until) skipped.delete(id)
      const players = sortedIds(
        [...slots].filter(([id, slot]) => slot.t === "present" && !(membership.voters as ReadonlySet<string>).has(id) && !skipped.has(id))
          .map(([id]) => id)
      ) as Array<PeerId>
      const spectators = sortedIds(
        [...slots].filter(([id, slot]) => slot.t === "spectate" && !(membership.allMembers as ReadonlySet<string>).has(id)).map(([id]) => id)
      ) as Array<PeerId>
      if (!full && players.length > 0) return yield* seatPlayer(players[0]!)
      if (seatedSpectators.size < options.maxSpectators && spectators.length > 0) {
        return yield* seatSpectator(spectators[0]!)
      }
      // Nothing to do: wait until someone announces something, the membership moves, or a
      // skipped learner may be tried again.
      const wake = skipped.size === 0
        ? Effect.never
        : Effect.sleep(Math.max(0, Math.min(...[...skipped.values()].map((s) => s.until)) - now))
      yield* Effect.raceAll([awaitChange(presence.slots, slots), awaitChange(node.membership, membership), wake])
    })

    return yield* pass.pipe(
      Effect.catchAll((error) =>
        Effect.logWarning(`admission: ${error._tag}; retrying`).pipe(Effect.zipRight(Effect.sleep(options.retryDelay)))
      ),
      Effect.forever
    )
  })

/** Default time a new learner gets to catch up before the host gives up on it. */
export const DEFAULT_CATCH_UP_TIMEOUT = Duration.seconds(5)
