/**
 * `MuxSeam`: up to 256 independent channels over one seam, each a full `Seam` view
 * (kuilt-behaviour §1.2, wire format §2.6: `[tag:u8][payload]`).
 *
 * The mux is the only collector of the delegate's `incoming`: one pump fiber, started by `make` in
 * the caller's scope, routes each frame by its first byte to the channel's inbox, zero-copy (the
 * view's frames are subarrays of the delegate's). Frames for a tag nobody opened, and empty frames,
 * are dropped and counted in `stats`; they never disturb the pump. Frames that arrive for a tag
 * before `channel(tag)` was called are lost (best effort, as in the original).
 *
 * Channels default to `Reliable` delivery: when a channel's collector lags, the pump waits instead
 * of dropping, which stalls every channel of this mux (and back-pressures the delegate). Choose
 * `Lossy` per channel where lag is expected.
 */
import { Effect } from "effect"
import type { Scope, Subscribable } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import type { CloseReason, SeamState } from "../../services/seam/SeamState.js"
import type { ChannelOptions, ChannelView, MuxStats } from "./ChannelView.js"
import { InvalidChannelTag } from "./errors.js"
import { startMux } from "./muxCore.js"

/** Options of a `MuxSeam`. */
export interface MuxSeamOptions {
  /** Default delivery policy of channel inboxes. Default: `DeliveryPolicy.reliable()`. */
  readonly policy?: DeliveryPolicy
}

export interface MuxSeam {
  /** The seam being multiplexed. Do not collect its `incoming`: the mux does. */
  readonly base: SeamShape
  /** The delegate's state (views add their own closing on top of it). */
  readonly baseState: Subscribable.Subscribable<SeamState>
  /**
   * The view for `tag` (an integer in 0..255), created on first use; later calls return the same
   * object, even after it was closed (a closed channel stays closed for the mux's life). `options`
   * apply only when the view is created. Fails with `InvalidChannelTag` outside 0..255.
   *
   * The view: `selfId` and `peers` are the delegate's (`peers` collapses to `{selfId}` once the view
   * is torn); `state` is the delegate's, or `Torn` once the view is closed; `maxPayloadBytes` is the
   * delegate's minus 1; sends check torn, then the view's budget (`PayloadTooLarge` with
   * `reservedBytes = 1`), then pass delegate errors through; `incoming` completes when the view is
   * closed or the delegate tears. Closing a view affects no other view and not the delegate.
   */
  readonly channel: (tag: number, options?: ChannelOptions) => Effect.Effect<SeamShape, InvalidChannelTag>
  /** Live frame counters of all channels (read them; they are updated in place). */
  readonly stats: Readonly<MuxStats>
  /** Closes the delegate, which tears every view. */
  readonly closeBase: (reason?: CloseReason) => Effect.Effect<void>
}

/**
 * Starts a mux over `delegate`, taking over its `incoming`. The pump lives in the current scope;
 * when the scope closes every view is torn (`Normal`), but the delegate is left open: the caller
 * owns it (use `closeBase` to close it).
 */
export const make = (delegate: SeamShape, options?: MuxSeamOptions): Effect.Effect<MuxSeam, never, Scope.Scope> =>
  Effect.gen(function*() {
    const views = new Array<ChannelView | undefined>(256)
    const core = yield* startMux(delegate, options?.policy ?? DeliveryPolicy.reliable(), (frame, stats) => {
      const payload = frame.payload
      if (payload.byteLength === 0) {
        stats.droppedMalformed++
        return undefined
      }
      const view = views[payload[0]!]
      if (view === undefined) {
        stats.droppedUnknownChannel++
        return undefined
      }
      return view.deliver(frame.sender, payload.subarray(1))
    })
    const lookup = (tag: number) => views[tag]
    const register = (tag: number, view: ChannelView) => void (views[tag] = view)
    return {
      base: delegate,
      baseState: core.baseState,
      stats: core.stats,
      closeBase: core.closeBase,
      channel: (tag, channelOptions) =>
        Number.isInteger(tag) && tag >= 0 && tag <= 255
          ? core.openView(tag, lookup, register, Uint8Array.of(tag), channelOptions?.policy)
          : Effect.fail(new InvalidChannelTag({ tag }))
    }
  })

/** `MuxSeam.make`: see `make`. */
export const MuxSeam = { make }
