/**
 * The lobby presence map on channel tag 2 (`channels.ts`): each peer owns one slot saying
 * what it is in the game (host, present, spectating, or the host's "admission closed" with the
 * final roster), and every peer holds a replica of every slot.
 *
 * Replication is deliberately small and best effort: the owner broadcasts its slot when it
 * changes, when a new peer shows up, and again every `announceEvery` on Effect's `Clock`, so a
 * peer that opened its presence channel late (or lost a frame) converges within one period. Each
 * announcement carries the owner's incarnation `epoch` (random) and a `version` counter: a replica
 * keeps the highest version of an epoch, and a new epoch (the owner restarted) replaces the old
 * one. A slot disappears when its owner leaves the seam's `peers`. Undecodable frames are dropped,
 * counted and logged at debug level; they never stop the map.
 */
import { Effect, Either, Random, Schedule, Schema, Stream, SubscriptionRef } from "effect"
import type { Duration, Scope, Subscribable } from "effect"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { awaitValue } from "./watch.js"

const Count = Schema.Number.pipe(Schema.int(), Schema.between(0, Number.MAX_SAFE_INTEGER))

/**
 * One peer's declaration. `host`: it runs admission (`spectators`: whether it seats spectators).
 * `closed`: a host whose roster is full, with the final voters. `present`: a player waiting for a
 * seat or seated. `spectate`: a would-be or seated spectator. `present`/`spectate` carry the
 * peer's Raft commit index, which the host reads to know a new learner has caught up.
 */
export const PresenceSlot = Schema.Union(
  Schema.Struct({ t: Schema.Literal("host"), spectators: Schema.Boolean }),
  Schema.Struct({ t: Schema.Literal("closed"), voters: Schema.Array(Schema.String), spectators: Schema.Boolean }),
  Schema.Struct({ t: Schema.Literal("present"), commit: Count }),
  Schema.Struct({ t: Schema.Literal("spectate"), commit: Count })
)
export type PresenceSlot = typeof PresenceSlot.Type

const Announcement = Schema.parseJson(Schema.Struct({ epoch: Count, version: Count, slot: PresenceSlot }))
const encodeAnnouncement = Schema.encodeSync(Announcement)
const decodeAnnouncement = Schema.decodeUnknownEither(Announcement)
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

/** Is `slot` a host declaration (open or closed)? */
export const isHostSlot = (slot: PresenceSlot): boolean => slot.t === "host" || slot.t === "closed"

/** Who is in a game session and in which slot (host, player or spectator), each peer announcing its own over the seam. */
export interface Presence {
  readonly selfId: PeerId
  /** Every known slot, this peer's own included once set. */
  readonly slots: Subscribable.Subscribable<ReadonlyMap<PeerId, PresenceSlot>>
  /** Replaces this peer's slot and announces it at once. */
  readonly set: (slot: PresenceSlot) => Effect.Effect<void>
  /** Waits until `f` returns a value for the current map (checked now and on every change). */
  readonly awaitMatch: <A>(f: (slots: ReadonlyMap<PeerId, PresenceSlot>) => A | undefined) => Effect.Effect<A>
  /** Frames dropped because they did not decode. */
  readonly stats: { readonly droppedMalformed: number }
}

/** Options of `Presence.make`: how often this peer re-announces its slot. */
export interface PresenceOptions {
  /** Re-announce period. Default 100 ms. */
  readonly announceEvery?: Duration.DurationInput
}

interface Version {
  readonly epoch: number
  readonly version: number
}

/** Starts the presence map over `seam` (the presence channel view) in the current scope. */
export const make = (seam: SeamShape, options: PresenceOptions = {}): Effect.Effect<Presence, never, Scope.Scope> =>
  Effect.gen(function*() {
    const selfId = seam.selfId
    const epoch = yield* Random.nextIntBetween(0, 0x7fffffff)
    const slots = yield* SubscriptionRef.make<ReadonlyMap<PeerId, PresenceSlot>>(new Map())
    const versions = new Map<PeerId, Version>()
    const stats = { droppedMalformed: 0 }
    let own: { version: number; slot: PresenceSlot } | undefined = undefined

    const announce = Effect.suspend(() =>
      own === undefined
        ? Effect.void
        : seam.broadcast(utf8.encode(encodeAnnouncement({ epoch, version: own.version, slot: own.slot }))).pipe(
          // A torn seam is the session ending; nothing left to tell.
          Effect.catchTag("SeamTorn", () => Effect.void)
        )
    )

    const receive = (sender: PeerId, payload: Uint8Array) =>
      Effect.suspend(() => {
        if (sender === selfId) return Effect.void
        let text: string
        try {
          text = fromUtf8.decode(payload)
        } catch {
          stats.droppedMalformed++
          return Effect.logDebug(`presence: dropped a non-UTF-8 frame from ${sender}`)
        }
        const decoded = decodeAnnouncement(text)
        if (Either.isLeft(decoded)) {
          stats.droppedMalformed++
          return Effect.logDebug(`presence: dropped an undecodable frame from ${sender}`)
        }
        const { epoch: e, slot, version } = decoded.right
        const known = versions.get(sender)
        if (known !== undefined && known.epoch === e && known.version >= version) return Effect.void
        versions.set(sender, { epoch: e, version })
        return SubscriptionRef.update(slots, (m) => new Map(m).set(sender, slot))
      })

    yield* seam.incoming.pipe(
      Stream.runForEach((sw) => receive(sw.sender, sw.payload)),
      Effect.forkScoped
    )

    // A peer that leaves takes its slot with it; a peer that arrives hears us at once.
    let known = new Set<PeerId>([selfId])
    yield* seam.peers.changes.pipe(
      Stream.runForEach((peers) =>
        Effect.gen(function*() {
          const arrived = [...peers].some((p) => !known.has(p))
          const left = [...known].filter((p) => !peers.has(p))
          known = new Set(peers)
          if (left.length > 0) {
            for (const p of left) versions.delete(p)
            yield* SubscriptionRef.update(slots, (m) => {
              const next = new Map(m)
              for (const p of left) next.delete(p)
              return next
            })
          }
          if (arrived) yield* announce
        })
      ),
      Effect.forkScoped
    )

    yield* announce.pipe(
      Effect.repeat(Schedule.spaced(options.announceEvery ?? "100 millis")),
      Effect.forkScoped
    )

    const presence: Presence = {
      selfId,
      slots,
      stats,
      set: (slot) =>
        Effect.gen(function*() {
          own = { version: (own?.version ?? 0) + 1, slot }
          yield* SubscriptionRef.update(slots, (m) => new Map(m).set(selfId, slot))
          yield* announce
        }),
      awaitMatch: (f) => awaitValue(slots, f)
    }
    return presence
  })

/** `Presence.make`: announces this peer's slot and tracks everyone else's. */
export const Presence = { make }
