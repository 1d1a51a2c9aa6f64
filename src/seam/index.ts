/**
 * Combinators over any Seam: the channel multiplexer (`Mux.byTag` by one-byte tag, `Mux.byName`
 * by name) and the hot-swappable `ManagedSeam`, with their typed errors.
 */
export type { ChannelOptions, MuxStats } from "./ChannelView.js"
export { InvalidChannelName, InvalidChannelTag, SelfIdMismatch } from "./errors.js"
export type { InvalidChannelNameReason } from "./errors.js"
export { ManagedSeam } from "./ManagedSeam.js"
export type { ManagedSeamOptions, ManagedSeamStats } from "./ManagedSeam.js"
export { Mux } from "./Mux.js"
export type { InvalidChannelKey, MuxOptions } from "./Mux.js"
