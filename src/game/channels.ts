/**
 * The channel layout every game session puts over the caller's one plain `Seam`: a by-tag `Mux`
 * whose tag 1 carries Raft, tag 2 the presence map and tag 3 a by-name `Mux` of application
 * channels (chat, cursors...). All three views are opened before the
 * function returns, because a mux drops frames for a tag nobody opened yet.
 *
 * The mux becomes the only collector of `seam.incoming` (single collection): the caller must not
 * collect it afterwards, or it would race the Raft engine for frames.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { Mux } from "../seam/Mux.js"

/** Tag of the Raft channel. */
export const RAFT_TAG = 1
/** Tag of the presence channel. */
export const PRESENCE_TAG = 2
/** Tag of the application channels (a by-name `Mux` subtree). */
export const APP_TAG = 3

/** Buffer of the lossy channels (presence and app traffic). */
const LOSSY_CAPACITY = 1024

export interface GameChannels {
  readonly mux: Mux<number>
  readonly raft: SeamShape
  readonly presence: SeamShape
  readonly app: Mux<string>
}

/**
 * Opens the layout over `seam` in the current scope (closing it tears every view). Raft keeps
 * `Reliable` delivery (it must not lose frames to a momentarily slow engine more than the network
 * does); presence and app channels are `Lossy`, because they are best effort by contract and a
 * reader that never collects an app channel must not stall Raft, which shares the mux's pump.
 */
export const openChannels = (seam: SeamShape): Effect.Effect<GameChannels, never, Scope.Scope> =>
  Effect.gen(function*() {
    const mux = yield* Mux.byTag(seam)
    const lossy = { policy: DeliveryPolicy.lossy(LOSSY_CAPACITY) }
    // Tags are constants in 0..255, so `channel` cannot fail here.
    const raft = yield* Effect.orDie(mux.channel(RAFT_TAG))
    const presence = yield* Effect.orDie(mux.channel(PRESENCE_TAG, lossy))
    const appBase = yield* Effect.orDie(mux.channel(APP_TAG, lossy))
    const app = yield* Mux.byName(appBase, { policy: DeliveryPolicy.lossy(LOSSY_CAPACITY) })
    return { mux, raft, presence, app }
  })
