/**
 * One channel of a multiplexed seam (`Mux`): a full `Seam` whose frames carry a
 * fixed header in front of the payload on the delegate, and whose receive side is its own
 * `Inbox`, filled by the mux's single pump.
 *
 * Lifecycle. A view is torn when it is closed itself (only this view: siblings and the delegate are
 * untouched) or when its mux stops pumping (the delegate tore, or the mux's scope closed). Torn is
 * latched with the first reason; if the delegate had already torn when the view closes, the
 * delegate's reason is kept, because the view was effectively torn from that moment.
 */
import { Effect, Equal, Option, Stream, Subscribable, SubscriptionRef } from "effect"
import type { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { FrameOverflow, PayloadTooLarge, SeamTorn } from "../../services/seam/SeamErrors.js"
import type { SendError } from "../../services/seam/SeamErrors.js"
import { CloseReason, isTorn, SeamState } from "../../services/seam/SeamState.js"
import type { Swatch } from "../../services/seam/Swatch.js"
import { Inbox } from "./Inbox.js"
import type { Delivery, OfferCounters } from "./pump.js"
import { offerFrame } from "./pump.js"

/** Frame counters of one mux (all its channels together). */
export interface MuxStats extends OfferCounters {
  /** Frames whose tag or name matched no channel opened on this mux. */
  droppedUnknownChannel: number
  /** Frames too short for their header (empty, zero name length, name past the end). */
  droppedMalformed: number
  /** Broadcasts over a view's budget, dropped before reaching the delegate (the contract's rule). */
  droppedOversizeBroadcast: number
}

/** Fresh zeroed mux counters. */
export const makeMuxStats = (): MuxStats => ({
  delivered: 0,
  droppedOverflow: 0,
  droppedClosed: 0,
  droppedUnknownChannel: 0,
  droppedMalformed: 0,
  droppedOversizeBroadcast: 0
})

/** Options of one channel view. */
export interface ChannelOptions {
  /**
   * How the channel's inbox behaves when its collector falls behind. Default (set by the mux):
   * `Reliable`, so the mux's pump waits rather than losing frames. Note that a waiting pump stalls
   * every channel of the mux (they share the delegate's one stream); use `Lossy` for a channel
   * whose collector may lag, such as presence or telemetry.
   */
  readonly policy?: DeliveryPolicy
}

/** Peer sets with the same members (the sets published by seams are fresh objects each time). */
export const samePeerSet = (a: ReadonlySet<PeerId>, b: ReadonlySet<PeerId>): boolean => {
  if (a.size !== b.size) return false
  for (const p of a) if (!b.has(p)) return false
  return true
}

export class ChannelView implements SeamShape {
  readonly selfId: PeerId
  readonly peers: Subscribable.Subscribable<ReadonlySet<PeerId>>
  readonly state: Subscribable.Subscribable<SeamState>
  readonly incoming: Stream.Stream<Swatch>
  /** Set once, synchronously, so the send path reads it without an Effect. */
  private closedReason: CloseReason | undefined = undefined

  private constructor(
    private readonly delegate: SeamShape,
    /** The bytes written in front of every payload. */
    private readonly header: Uint8Array,
    private readonly inbox: Inbox,
    /** The same latch as `closedReason`, observable, for `peers.changes`/`state.changes`. */
    private readonly closedRef: SubscriptionRef.SubscriptionRef<Option.Option<CloseReason>>,
    private readonly stats: MuxStats
  ) {
    this.selfId = delegate.selfId
    this.incoming = inbox.stream
    const self: ReadonlySet<PeerId> = new Set([delegate.selfId])
    this.peers = Subscribable.make({
      get: Effect.suspend(() => (this.closedReason === undefined ? delegate.peers.get : Effect.succeed(self))),
      changes: closedRef.changes.pipe(
        Stream.flatMap(
          (closed) => (Option.isNone(closed) ? delegate.peers.changes : Stream.succeed(self)),
          { switch: true }
        ),
        Stream.changesWith(samePeerSet)
      )
    })
    this.state = Subscribable.make({
      get: Effect.suspend(() => {
        const reason = this.closedReason
        return reason === undefined ? delegate.state.get : Effect.succeed(SeamState.Torn({ reason }))
      }),
      changes: closedRef.changes.pipe(
        Stream.flatMap(
          (closed) =>
            Option.match(closed, {
              onNone: () => delegate.state.changes,
              onSome: (reason) => Stream.succeed(SeamState.Torn({ reason }))
            }),
          { switch: true }
        ),
        Stream.changesWith((a, b) => Equal.equals(a, b))
      )
    })
  }

  /** Builds a view writing `header` in front of each payload; its inbox uses `policy`. */
  static make(delegate: SeamShape, header: Uint8Array, policy: DeliveryPolicy, stats: MuxStats): Effect.Effect<ChannelView> {
    return Effect.map(
      SubscriptionRef.make(Option.none<CloseReason>()),
      (closedRef) => new ChannelView(delegate, header, new Inbox(delegate.selfId, policy), closedRef, stats)
    )
  }

  /** The delegate's budget minus this view's header; `None` stays `None` (unknown). */
  get maxPayloadBytes(): Option.Option<number> {
    const budget = this.budget()
    return budget === undefined ? Option.none() : Option.some(budget)
  }

  /** `maxPayloadBytes` without allocating an Option, for the send path. */
  private budget(): number | undefined {
    const inner = this.delegate.maxPayloadBytes
    return Option.isSome(inner) ? Math.max(0, inner.value - this.header.byteLength) : undefined
  }

  readonly sendTo = (peer: PeerId, payload: Uint8Array): Effect.Effect<void, SendError> =>
    Effect.suspend(() => {
      const closed = this.closedReason
      if (closed !== undefined) return Effect.fail(new SeamTorn({ reason: closed }))
      const budget = this.budget()
      if (budget !== undefined && payload.byteLength > budget) {
        return this.tornOr(
          Effect.fail(
            new PayloadTooLarge({
              payloadBytes: payload.byteLength,
              budgetBytes: budget,
              reservedBytes: this.header.byteLength
            })
          )
        )
      }
      // The delegate checks torn and peer itself; its errors pass through unchanged.
      return this.delegate.sendTo(peer, this.frame(payload))
    })

  readonly broadcast = (payload: Uint8Array): Effect.Effect<void, SeamTorn> =>
    Effect.suspend(() => {
      const closed = this.closedReason
      if (closed !== undefined) return Effect.fail(new SeamTorn({ reason: closed }))
      const budget = this.budget()
      if (budget !== undefined && payload.byteLength > budget) {
        // Dropped here rather than by the delegate, to skip the copy; counted like the fabric would.
        return this.tornOr(Effect.sync(() => void this.stats.droppedOversizeBroadcast++))
      }
      return this.delegate.broadcast(this.frame(payload))
    })

  readonly close = (reason: CloseReason = CloseReason.Normal()): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (this.closedReason !== undefined) return Effect.void
      return Effect.flatMap(this.delegate.state.get, (state) => this.latch(isTorn(state) ? state.reason : reason))
    })

  /**
   * Tears this view with `reason` unless it is torn already: sends fail from now on, `incoming`
   * completes (frames still queued are discarded), `peers` collapses to `{selfId}`. The mux calls
   * it for every view when its pump stops.
   */
  latch(reason: CloseReason): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closedReason !== undefined) return Effect.void
      this.closedReason = reason
      this.inbox.close()
      return SubscriptionRef.set(this.closedRef, Option.some(reason))
    })
  }

  /**
   * Routes one received payload (header already stripped) into this view's inbox. Used by the
   * mux's pump; a `Strict` overflow tears only this view, with `FrameOverflow` as the cause.
   */
  deliver(sender: PeerId, payload: Uint8Array): Delivery {
    return offerFrame(this.inbox, sender, payload, this.stats, () =>
      this.latch(CloseReason.Error({
        cause: new FrameOverflow({ from: sender, to: this.selfId, capacity: this.inbox.policy.capacity })
      })))
  }

  /** The contract checks torn before budget: a budget failure is reported as torn if the delegate is. */
  private tornOr<E>(otherwise: Effect.Effect<void, E>): Effect.Effect<void, E | SeamTorn> {
    return Effect.flatMap(
      this.delegate.state.get,
      (state): Effect.Effect<void, E | SeamTorn> =>
        isTorn(state) ? Effect.fail(new SeamTorn({ reason: state.reason })) : otherwise
    )
  }

  /** Header then payload, in the one allocation a send makes. */
  private frame(payload: Uint8Array): Uint8Array {
    const h = this.header.byteLength
    const out = new Uint8Array(h + payload.byteLength)
    if (h === 1) out[0] = this.header[0]!
    else out.set(this.header, 0)
    out.set(payload, h)
    return out
  }
}
