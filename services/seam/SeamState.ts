/**
 * Lifecycle of a Seam: `Weaving` (connecting or degraded but recoverable), `Woven` (usable) and
 * `Torn` (terminal and latched, with the reason it tore).
 */
import { Data } from "effect"

/** Why a seam tore. */
export type CloseReason = Data.TaggedEnum<{
  /** Closed on purpose by its owner. */
  Normal: {}
  /** Closed because something failed; `cause` says what. */
  Error: { readonly cause: unknown }
  /** The remote side asked for the close. */
  RemoteRequested: {}
  /** The fabric lost the remote side for good. */
  Unreachable: {}
}>
export const CloseReason = Data.taggedEnum<CloseReason>()

/** A seam's lifecycle: `Weaving`, `Woven`, or the terminal `Torn` with its reason. */
export type SeamState = Data.TaggedEnum<{
  Weaving: {}
  Woven: {}
  Torn: { readonly reason: CloseReason }
}>
export const SeamState = Data.taggedEnum<SeamState>()

/** True when the state is the terminal `Torn`. */
export const isTorn = (state: SeamState): state is Extract<SeamState, { _tag: "Torn" }> => state._tag === "Torn"
