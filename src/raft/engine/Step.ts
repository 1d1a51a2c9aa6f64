/**
 * How a turn continues. A turn runs synchronously for as long as nothing needs an Effect (fast
 * paths, streams without subscribers); the first step that does need one returns the Effect that
 * finishes the turn. Keeping both shapes in one type lets the common case allocate no Effect.
 */
import { Effect } from "effect"

/** A turn's outcome (`false`: the node failed), or the Effect that finishes the turn. */
export type Step = boolean | Effect.Effect<boolean>

/** The rest of a turn after an Effect: as an Effect. */
export const later = (step: Step): Effect.Effect<boolean> => (typeof step === "boolean" ? Effect.succeed(step) : step)
