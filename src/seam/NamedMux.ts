/**
 * `NamedMux`: channels named by strings over one seam, each a full `Seam` view
 * (kuilt-behaviour §1.2, wire format §2.6: `[nameLen:u8][name: nameLen UTF-8 bytes][payload]`).
 *
 * It behaves like `MuxSeam` (single pump in the caller's scope, zero-copy routing, unknown names
 * dropped and counted, `Reliable` by default, closing a view affects only that view) with a header
 * of `1 + nameBytes`. Frames whose header does not fit (empty frame, name length 0, name running
 * past the end of the frame) are dropped and counted as malformed.
 *
 * Nesting is the intended composition: a `NamedMux` over one `MuxSeam` channel carries a whole
 * tree of named sub-channels under a single tag, and each layer reports its own header cost in
 * `maxPayloadBytes`.
 */
import { Effect } from "effect"
import type { Scope, Subscribable } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import type { CloseReason, SeamState } from "../../services/seam/SeamState.js"
import type { ChannelOptions, ChannelView, MuxStats } from "./ChannelView.js"
import { InvalidChannelName } from "./errors.js"
import { startMux } from "./muxCore.js"

/** Options of a `NamedMux`. */
export interface NamedMuxOptions {
  /** Default delivery policy of channel inboxes. Default: `DeliveryPolicy.reliable()`. */
  readonly policy?: DeliveryPolicy
}

export interface NamedMux {
  /** The seam being multiplexed. Do not collect its `incoming`: the mux does. */
  readonly base: SeamShape
  /** The delegate's state (views add their own closing on top of it). */
  readonly baseState: Subscribable.Subscribable<SeamState>
  /**
   * The view for `name`, created on first use and the same object afterwards (also once closed).
   * The name must be well-formed Unicode encoding to 1..255 UTF-8 bytes, else the call fails with
   * `InvalidChannelName`. The view's budget is the delegate's minus `1 + nameBytes`, which is also
   * its `PayloadTooLarge.reservedBytes`. `options` apply only when the view is created.
   */
  readonly channel: (name: string, options?: ChannelOptions) => Effect.Effect<SeamShape, InvalidChannelName>
  /** Live frame counters of all channels (read them; they are updated in place). */
  readonly stats: Readonly<MuxStats>
  /** Closes the delegate, which tears every view. */
  readonly closeBase: (reason?: CloseReason) => Effect.Effect<void>
}

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
 * Starts a named mux over `delegate`, taking over its `incoming`. The pump lives in the current
 * scope; when the scope closes every view is torn (`Normal`) and the delegate is left open.
 */
export const make = (delegate: SeamShape, options?: NamedMuxOptions): Effect.Effect<NamedMux, never, Scope.Scope> =>
  Effect.gen(function*() {
    const byName = new Map<string, ChannelView>()
    // Routing without decoding a string per frame: views bucketed by name length, compared bytewise.
    const byLength = new Map<number, Array<{ readonly header: Uint8Array; readonly view: ChannelView }>>()

    const core = yield* startMux(delegate, options?.policy ?? DeliveryPolicy.reliable(), (frame, stats) => {
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
      base: delegate,
      baseState: core.baseState,
      stats: core.stats,
      closeBase: core.closeBase,
      channel: (name, channelOptions) =>
        Effect.suspend(() => {
          const header = headerOf(name)
          if (header instanceof InvalidChannelName) return Effect.fail(header)
          const register = (key: string, view: ChannelView) => {
            byName.set(key, view)
            const len = header.byteLength - 1
            const bucket = byLength.get(len)
            if (bucket === undefined) byLength.set(len, [{ header, view }])
            else bucket.push({ header, view })
          }
          return core.openView(name, (key) => byName.get(key), register, header, channelOptions?.policy)
        })
    }
  })

/** `NamedMux.make`: see `make`. */
export const NamedMux = { make }
