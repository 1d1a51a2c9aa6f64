/**
 * A `Loom` weaves seams: `host` starts a session, `join` enters one. The seam lives as long as
 * the caller's `Scope`; closing the scope closes the seam.
 */
import type { Scope } from "effect"
import { Context, Effect, Layer } from "effect"
import type { Pattern, Tag } from "./Pattern.js"
import { Seam } from "./Seam.js"
import type { SeamShape } from "./Seam.js"
import type { WeaveFailed } from "./SeamErrors.js"

/** What a `Loom` offers; the service is `Loom` below. */
export interface LoomShape {
  /** Hosts a new session; fails with `WeaveFailed` when the fabric refuses (e.g. a taken name). */
  readonly host: (pattern: Pattern) => Effect.Effect<SeamShape, WeaveFailed, Scope.Scope>
  /** Joins a session; fails with `WeaveFailed` when there is none or it refuses this peer. */
  readonly join: (tag: Tag) => Effect.Effect<SeamShape, WeaveFailed, Scope.Scope>
}

/**
 * The `Loom` service: the fabric in context (`InMemoryLoom.layer`, a WebSocket loom's layer). Its
 * statics turn it into a `Seam` Layer, so an app swaps fabrics by swapping one Layer.
 */
export class Loom extends Context.Tag("kuilt/Loom")<Loom, LoomShape>() {
  /**
   * A `Seam` hosted on the `Loom` in context with `pattern`, closed with the Layer's scope. Fails
   * with `WeaveFailed` when the fabric refuses.
   */
  static readonly layerHost = (pattern: Pattern): Layer.Layer<Seam, WeaveFailed, Loom> =>
    Layer.scoped(Seam, Effect.flatMap(Loom, (loom) => loom.host(pattern)))

  /**
   * A `Seam` that joins the session `tag` names on the `Loom` in context, closed with the Layer's
   * scope. Fails with `WeaveFailed` when there is no such session or it refuses this peer.
   */
  static readonly layerJoin = (tag: Tag): Layer.Layer<Seam, WeaveFailed, Loom> =>
    Layer.scoped(Seam, Effect.flatMap(Loom, (loom) => loom.join(tag)))
}
