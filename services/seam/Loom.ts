/**
 * A `Loom` weaves seams: `host` starts a session, `join` enters one. The seam lives as long as
 * the caller's `Scope`; closing the scope closes the seam.
 */
import type { Effect, Scope } from "effect"
import { Context } from "effect"
import type { Pattern, Tag } from "./Pattern.js"
import type { Seam } from "./Seam.js"
import type { WeaveFailed } from "./SeamErrors.js"

export interface Loom {
  readonly host: (pattern: Pattern) => Effect.Effect<Seam, WeaveFailed, Scope.Scope>
  readonly join: (tag: Tag) => Effect.Effect<Seam, WeaveFailed, Scope.Scope>
}

/** The `Loom` service tag. */
export const Loom = Context.GenericTag<Loom>("kuilt/Loom")
