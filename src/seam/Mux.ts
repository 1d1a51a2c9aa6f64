/**
 * `Mux`: independent channels over one seam, each a full `Seam` view, keyed either by a one-byte
 * tag (`Mux.byTag`, wire `[tag:u8][payload]`, up to 256 channels) or by a name (`Mux.byName`, wire
 * `[nameLen:u8][name: nameLen UTF-8 bytes][payload]`). The two differ only in the header and in
 * how a frame's header finds its channel; everything else is this module's.
 *
 * The mux is the only collector of the delegate's `incoming`: one pump fiber, started in the
 * caller's scope, routes each frame to its channel's inbox, zero-copy (a view's frames are
 * subarrays of the delegate's). Frames for a key nobody opened, and frames too short for their
 * header, are dropped and counted in `stats`; they never disturb the pump. Frames that arrive for a
 * key before `channel(key)` was called are lost (best effort, as in the original library).
 *
 * Channels default to `Reliable` delivery: when a channel's collector lags, the pump waits instead
 * of dropping, which stalls every channel of the mux (and back-pressures the delegate). Choose
 * `Lossy` per channel where lag is expected.
 *
 * Nesting is the intended composition: a by-name mux over one by-tag channel carries a whole tree
 * of named sub-channels under a single tag (the game layout, `src/game/channels.ts`), and each level
 * reports its own header cost in `maxPayloadBytes`.
 */
import { Cause, Effect, Exit } from "effect"
import type { Scope, Subscribable } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { CloseReason, isTorn } from "../../services/seam/SeamState.js"
import type { SeamState } from "../../services/seam/SeamState.js"
import type { Swatch } from "../../services/seam/Swatch.js"
import type { ChannelOptions, MuxStats } from "./ChannelView.js"
import { ChannelView, makeMuxStats } from "./ChannelView.js"
import { InvalidChannelName, InvalidChannelTag } from "./errors.js"
import type { Delivery } from "./pump.js"
import { pumpFrames } from "./pump.js"

/** Options of a mux. */
export interface MuxOptions {
  /** Default delivery policy of channel inboxes. Default: `DeliveryPolicy.reliable()`. */
  readonly policy?: DeliveryPolicy
}

/** Why `channel(key)` refuses a key: a tag outside 0..255, or a name that is no valid header. */
export type InvalidChannelKey<K extends number | string> = K extends number ? InvalidChannelTag : InvalidChannelName

/** A multiplexer over one seam, with channels keyed by `K` (`number` tags or `string` names). */
export interface Mux<K extends number | string> {
  /** The seam being multiplexed. Do not collect its `incoming`: the mux does. */
  readonly base: SeamShape
  /** The delegate's state (views add their own closing on top of it). */
  readonly baseState: Subscribable.Subscribable<SeamState>
  /**
   * The view for `key`, created on first use; later calls return the same object, even after it
   * was closed (a closed channel stays closed for the mux's life). `options` apply only when the
   * view is created. Fails with `InvalidChannelTag` for a tag outside the integers 0..255, and with
   * `InvalidChannelName` for a name that is not 1..255 bytes of well-formed UTF-8.
   *
   * The view: `selfId` and `peers` are the delegate's (`peers` collapses to `{selfId}` once the view
   * is torn); `state` is the delegate's, or `Torn` once the view is closed; `maxPayloadBytes` is the
   * delegate's minus the header (1 for a tag, `1 + nameBytes` for a name); sends check torn, then
   * the view's budget (`PayloadTooLarge` with `reservedBytes` = the header), then pass delegate
   * errors through; `incoming` completes when the view is closed or the delegate tears. Closing a
   * view affects no other view and not the delegate.
   */
  readonly channel: (key: K, options?: ChannelOptions) => Effect.Effect<SeamShape, InvalidChannelKey<K>>
  /** Live frame counters of all channels (read them; they are updated in place). */
  readonly stats: Readonly<MuxStats>
  /** Closes the delegate, which tears every view. */
  readonly closeBase: (reason?: CloseReason) => Effect.Effect<void>
}

/**
 * The pump and the view table every mux shares. `route` finds a frame's view (counting what it
 * drops in `stats`); `openView` returns the view registered under a key or creates one with the
 * given header. When the pump stops (the delegate tore, the scope closed, or the pump died) every
 * view, present and future, is torn with the delegate's reason, `Normal` or `Error`.
 */
const start = (
  delegate: SeamShape,
  defaultPolicy: DeliveryPolicy,
  route: (frame: Swatch, stats: MuxStats) => Delivery
) =>
  Effect.gen(function*() {
    const stats = makeMuxStats()
    const views = new Set<ChannelView>()
    let stopped: CloseReason | undefined = undefined

    const stop = (exit: Exit.Exit<void>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (stopped !== undefined) return
        const state = yield* delegate.state.get
        const reason: CloseReason = isTorn(state)
          ? state.reason
          : Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)
          ? CloseReason.Normal()
          : CloseReason.Error({ cause: Cause.squash(exit.cause) })
        stopped = reason
        for (const view of views) yield* view.latch(reason)
      })

    // Both paths tear the views: the pump's own exit (the delegate tore, or the pump died) and the
    // scope's finalizer, because a pump interrupted before it ever ran skips its `onExit`.
    yield* Effect.addFinalizer(() => stop(Exit.void))
    // Interruptible even if the mux is made in an uninterruptible region (a layer's construction,
    // say): the scope must be able to stop it.
    yield* pumpFrames(delegate.incoming, (frame) => route(frame, stats)).pipe(
      Effect.onExit(stop),
      Effect.interruptible,
      Effect.forkScoped
    )

    const openView = <Key>(
      key: Key,
      lookup: (key: Key) => ChannelView | undefined,
      register: (key: Key, view: ChannelView) => void,
      header: Uint8Array,
      policy: DeliveryPolicy | undefined
    ): Effect.Effect<ChannelView> =>
      Effect.suspend(() => {
        const existing = lookup(key)
        if (existing !== undefined) return Effect.succeed(existing)
        return Effect.flatMap(ChannelView.make(delegate, header, policy ?? defaultPolicy, stats), (made) => {
          // Creation took an Effect: a concurrent call may have registered the key meanwhile; the
          // first registration wins so that `channel` stays idempotent.
          const raced = lookup(key)
          if (raced !== undefined) return Effect.succeed(raced)
          register(key, made)
          views.add(made)
          return stopped === undefined ? Effect.succeed(made) : Effect.as(made.latch(stopped), made)
        })
      })

    return { stats, openView }
  })

/** The parts of a `Mux` that do not depend on the key. */
const shell = (delegate: SeamShape, stats: MuxStats) => ({
  base: delegate,
  baseState: delegate.state,
  stats,
  closeBase: (reason?: CloseReason) => delegate.close(reason)
})

/**
 * Starts a mux over `delegate` whose channels are one-byte tags (integers 0..255), taking over the
 * delegate's `incoming`. The pump lives in the current scope; when the scope closes every view is
 * torn (`Normal`), but the delegate is left open: the caller owns it (`closeBase` closes it).
 */
export const byTag = (delegate: SeamShape, options?: MuxOptions): Effect.Effect<Mux<number>, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Routing is one array index per frame.
    const views = new Array<ChannelView | undefined>(256)
    const { openView, stats } = yield* start(delegate, options?.policy ?? DeliveryPolicy.reliable(), (frame, stats) => {
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
      ...shell(delegate, stats),
      channel: (tag, channelOptions) =>
        Number.isInteger(tag) && tag >= 0 && tag <= 255
          ? openView(tag, lookup, register, Uint8Array.of(tag), channelOptions?.policy)
          : Effect.fail(new InvalidChannelTag({ tag }))
    }
  })

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder("utf-8", { fatal: true })

/** The channel header `[len][name]`, or why `name` cannot be one. */
const headerOf = (name: string): Uint8Array | InvalidChannelName => {
  const bytes = encoder.encode(name)
  const fail = (reason: InvalidChannelName["reason"]) =>
    new InvalidChannelName({ name, byteLength: bytes.byteLength, reason })
  if (bytes.byteLength === 0) return fail("empty")
  if (bytes.byteLength > 255) return fail("too-long")
  // TextEncoder turns a lone surrogate into U+FFFD; the round trip exposes it.
  if (strictDecoder.decode(bytes) !== name) return fail("not-well-formed")
  const header = new Uint8Array(1 + bytes.byteLength)
  header[0] = bytes.byteLength
  header.set(bytes, 1)
  return header
}

/** True when `frame[1..1+len]` equals `header[1..]` (same length is known). */
const nameMatches = (frame: Uint8Array, header: Uint8Array, len: number): boolean => {
  for (let i = 1; i <= len; i++) if (frame[i] !== header[i]) return false
  return true
}

/**
 * Starts a mux over `delegate` whose channels are names (1..255 bytes of well-formed UTF-8),
 * taking over the delegate's `incoming`. Scope and ownership as for `byTag`.
 */
export const byName = (delegate: SeamShape, options?: MuxOptions): Effect.Effect<Mux<string>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const byKey = new Map<string, ChannelView>()
    // Routing without decoding a string per frame: views bucketed by name length, compared bytewise.
    const byLength = new Map<number, Array<{ readonly header: Uint8Array; readonly view: ChannelView }>>()
    const { openView, stats } = yield* start(delegate, options?.policy ?? DeliveryPolicy.reliable(), (frame, stats) => {
      const payload = frame.payload
      const len = payload[0]
      if (len === undefined || len === 0 || 1 + len > payload.byteLength) {
        stats.droppedMalformed++
        return undefined
      }
      const bucket = byLength.get(len)
      if (bucket !== undefined) {
        for (const entry of bucket) {
          if (nameMatches(payload, entry.header, len)) return entry.view.deliver(frame.sender, payload.subarray(1 + len))
        }
      }
      stats.droppedUnknownChannel++
      return undefined
    })
    return {
      ...shell(delegate, stats),
      channel: (name, channelOptions) =>
        Effect.suspend(() => {
          const header = headerOf(name)
          if (header instanceof InvalidChannelName) return Effect.fail(header)
          const register = (key: string, view: ChannelView) => {
            byKey.set(key, view)
            const len = header.byteLength - 1
            const bucket = byLength.get(len)
            if (bucket === undefined) byLength.set(len, [{ header, view }])
            else bucket.push({ header, view })
          }
          return openView(name, (key) => byKey.get(key), register, header, channelOptions?.policy)
        })
    }
  })

/** Channel multiplexers over one seam: `Mux.byTag(seam)` (one-byte tags), `Mux.byName(seam)` (names). */
export const Mux = { byTag, byName } as const
