/**
 * `MeshSeam`: one voter's seam to every other voter, assembled from pair links that come and go.
 *
 * Each other voter is reached through exactly one *backing* seam, named by a key (the link's own
 * seam, or a seam shared by several links, such as the accepting side's relay member). A backing
 * can be replaced at any time (`setBacking`): the old one's pump is stopped and awaited before the
 * new one's starts, so frames of one link never overtake each other across a swap. The mesh seam
 * itself never changes — whatever sits on top (a Raft node through the cluster's router) keeps its
 * identity, its log and its single `incoming` across every tear and restore of its links.
 *
 * - `peers`: itself plus every voter whose backing is woven and lists it. A link that is down
 *   takes its voter out (Raft then sees the peer gone: a forward to it fails fast).
 * - `state`: `Woven` while at least one other voter is reachable, `Weaving` otherwise (a lone
 *   voter is woven), `Torn` once closed. A backing's tear is recoverable here, never terminal.
 * - `incoming`: frames from the voters, each accepted only from the backing that voter is routed
 *   through (a frame from anyone else, e.g. another dialer sharing a relay room, is dropped and
 *   counted). Backings are drained synchronously (`SeamTap`); the inbox keeps up to 4096 frames per
 *   voter and then drops the oldest (counted): Raft retransmits, and a stalled reader never
 *   stalls the links.
 * - `sendTo`: through the voter's backing; a voter without a live backing is `PeerNotConnected`.
 */
import { Effect, Fiber, Option, Scope, Stream } from "effect"
import type { Subscribable } from "effect"
import { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../services/seam/Seam.js"
import { PayloadTooLarge, PeerNotConnected, SeamTorn } from "../../../services/seam/SeamErrors.js"
import type { SendError } from "../../../services/seam/SeamErrors.js"
import { CloseReason, SeamState } from "../../../services/seam/SeamState.js"
import { Cell } from "../../../src/internal/Cell.js"
import { samePeerSet } from "../../../src/seam/ChannelView.js"
import { Inbox, SEAM_FAST_PATH } from "../../../src/seam/Inbox.js"
import type { SeamFastPath } from "../../../src/seam/Inbox.js"
import { makeOfferCounters } from "../../../src/seam/pump.js"
import type { OfferCounters } from "../../../src/seam/pump.js"
import { SeamTap } from "./SeamTap.js"

/** Counters of a mesh seam. */
export interface MeshSeamStats extends OfferCounters {
  /** Backings swapped in. */
  swaps: number
  /** Frames from a sender not routed through the backing they arrived on. */
  droppedForeign: number
  /** Sends to a voter whose backing tore under them (counted, reported as `PeerNotConnected`). */
  droppedBackingTorn: number
}

interface Backing {
  readonly seam: SeamShape
  /** Stops its drain and its follower. */
  stop: Effect.Effect<void>
  readonly fast: SeamFastPath | undefined
  /** Its latest peers and state, as followed. */
  peers: ReadonlySet<PeerId>
  woven: boolean
}

export interface MeshSeam {
  readonly seam: SeamShape
  /**
   * Makes `seam` the backing `key` (replacing the current one, whose pump is stopped first). Its
   * `incoming` is taken over; its `selfId` must be this voter's.
   */
  readonly setBacking: (key: string, seam: SeamShape) => Effect.Effect<void>
  /** Whether `peer` is reachable now. */
  readonly reachable: (peer: PeerId) => boolean
  readonly stats: Readonly<MeshSeamStats>
}

/**
 * A mesh seam for `selfId`; `route(peer)` names the backing key each other voter is reached
 * through. Its fibers live in the current scope; closing the scope tears it (not its backings,
 * which their owners close).
 */
export const make = (
  selfId: PeerId,
  voters: ReadonlyArray<PeerId>,
  route: (peer: PeerId) => string
): Effect.Effect<MeshSeam, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const lock = yield* Effect.makeSemaphore(1)
    const others = voters.filter((v) => v !== selfId)
    const keyOf = new Map<PeerId, string>(others.map((p) => [p, route(p)]))
    const backings = new Map<string, Backing>()
    const inbox = new Inbox(selfId, DeliveryPolicy.lossy(4096))
    const stats: MeshSeamStats = { ...makeOfferCounters(), swaps: 0, droppedForeign: 0, droppedBackingTorn: 0 }
    const peers = new Cell<ReadonlySet<PeerId>>(new Set([selfId]))
    const state = new Cell<SeamState>(others.length === 0 ? SeamState.Woven() : SeamState.Weaving())
    let closed: CloseReason | undefined

    const live = (peer: PeerId): Backing | undefined => {
      const key = keyOf.get(peer)
      const b = key === undefined ? undefined : backings.get(key)
      return b !== undefined && b.woven && b.peers.has(peer) ? b : undefined
    }
    const republish = () => {
      if (closed !== undefined) return
      const next = new Set<PeerId>([selfId])
      for (const p of others) if (live(p) !== undefined) next.add(p)
      if (!samePeerSet(next, peers.value)) peers.set(next)
      const woven = others.length === 0 || next.size > 1
      if (woven !== (state.value._tag === "Woven")) state.set(woven ? SeamState.Woven() : SeamState.Weaving())
    }

    /** A frame of backing `key`: kept only from a voter routed through it. */
    const onFrame = (key: string) => (sender: PeerId, payload: Uint8Array): undefined => {
      if (keyOf.get(sender) !== key) {
        stats.droppedForeign++
        return undefined
      }
      // Lossy: a frame is never waited for here (the drain is synchronous), and Raft retransmits.
      const outcome = inbox.tryOffer(sender, payload)
      if (outcome === "accepted") stats.delivered++
      else if (outcome === "accepted-dropped-oldest") {
        stats.delivered++
        stats.droppedOverflow++
      } else stats.droppedClosed++
      return undefined
    }

    const follow = (b: Backing) =>
      Effect.all([
        Stream.runForEach(b.seam.peers.changes, (ps) => Effect.sync(() => {
          b.peers = ps
          republish()
        })),
        Stream.runForEach(b.seam.state.changes, (st) => Effect.sync(() => {
          b.woven = st._tag === "Woven"
          republish()
        }))
      ], { concurrency: 2, discard: true })

    const stop = (b: Backing | undefined) => (b === undefined ? Effect.void : b.stop)

    const setBacking = (key: string, seam: SeamShape): Effect.Effect<void> =>
      lock.withPermits(1)(Effect.gen(function*() {
        if (closed !== undefined) return
        if (seam.selfId !== selfId) return yield* Effect.dieMessage(`MeshSeam: a backing of ${seam.selfId} for ${selfId}`)
        const old = backings.get(key)
        if (old?.seam === seam) return
        yield* stop(old)
        backings.delete(key)
        const b: Backing = {
          seam,
          stop: Effect.void,
          fast: (seam as Partial<Record<typeof SEAM_FAST_PATH, SeamFastPath>>)[SEAM_FAST_PATH],
          peers: yield* seam.peers.get,
          woven: (yield* seam.state.get)._tag === "Woven"
        }
        const drain = yield* SeamTap.tap(seam, onFrame(key)).pipe(Scope.extend(scope))
        // Explicitly interruptible: forked from this uninterruptible region, it would inherit it.
        const follower = yield* Effect.forkIn(Effect.interruptible(follow(b)), scope)
        b.stop = Effect.zipRight(drain.stop, Fiber.interrupt(follower))
        backings.set(key, b)
        stats.swaps++
        republish()
      })).pipe(Effect.uninterruptible)

    const check = (peer: PeerId, payload: Uint8Array): SendError | Backing => {
      if (closed !== undefined) return new SeamTorn({ reason: closed })
      if (peer === selfId) throw new Error(`sendTo(${peer}): a seam cannot send to itself`)
      const b = live(peer)
      if (b === undefined) return new PeerNotConnected({ peer })
      const budget = b.seam.maxPayloadBytes
      if (Option.isSome(budget) && payload.byteLength > budget.value) {
        return new PayloadTooLarge({ payloadBytes: payload.byteLength, budgetBytes: budget.value, reservedBytes: 0 })
      }
      return b
    }
    const viaBacking = (peer: PeerId, send: Effect.Effect<void, SendError>): Effect.Effect<void, SendError> =>
      Effect.catchTag(send, "SeamTorn", () =>
        Effect.suspend((): Effect.Effect<never, SendError> => {
          if (closed !== undefined) return Effect.fail(new SeamTorn({ reason: closed }))
          stats.droppedBackingTorn++
          return Effect.fail(new PeerNotConnected({ peer }))
        }))

    const fastPath: SeamFastPath = {
      trySend: (peer, payload) => {
        const b = check(peer, payload)
        if (!("seam" in b)) return Effect.fail(b)
        if (b.fast === undefined) return viaBacking(peer, b.seam.sendTo(peer, payload))
        const rest = b.fast.trySend(peer, payload)
        return rest === undefined ? undefined : viaBacking(peer, rest)
      },
      collect: (wake) => inbox.tap(wake)
    }

    const close = (reason: CloseReason = CloseReason.Normal()) =>
      lock.withPermits(1)(Effect.gen(function*() {
        if (closed !== undefined) return
        for (const b of backings.values()) yield* stop(b)
        backings.clear()
        closed = reason
        inbox.close()
        peers.set(new Set([selfId]))
        state.set(SeamState.Torn({ reason }))
      })).pipe(Effect.uninterruptible)
    yield* Effect.addFinalizer(() => close())

    const seam: SeamShape & { readonly [SEAM_FAST_PATH]: SeamFastPath } = {
      [SEAM_FAST_PATH]: fastPath,
      selfId,
      peers: peers as Subscribable.Subscribable<ReadonlySet<PeerId>>,
      state,
      get maxPayloadBytes() {
        let min: number | undefined
        for (const b of backings.values()) {
          const x = b.seam.maxPayloadBytes
          if (Option.isSome(x)) min = min === undefined ? x.value : Math.min(min, x.value)
        }
        return Option.fromNullable(min)
      },
      incoming: inbox.stream,
      sendTo: (peer, payload) =>
        Effect.suspend(() => {
          const b = check(peer, payload)
          return "seam" in b ? viaBacking(peer, b.seam.sendTo(peer, payload)) : Effect.fail(b)
        }),
      broadcast: (payload) =>
        Effect.suspend(() => {
          if (closed !== undefined) return Effect.fail(new SeamTorn({ reason: closed }))
          const sends = others.flatMap((p) => {
            const b = check(p, payload)
            return "seam" in b ? [Effect.ignore(b.seam.sendTo(p, payload))] : []
          })
          return Effect.all(sends, { discard: true })
        }),
      close
    }
    return { seam, setBacking, reachable: (peer) => live(peer) !== undefined, stats }
  })

/** `MeshSeam.make`: see `make`. */
export const MeshSeam = { make }
