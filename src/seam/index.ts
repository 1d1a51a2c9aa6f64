/**
 * Combinators over any Seam: channel multiplexers (`MuxSeam` by one-byte tag, `NamedMux` by name)
 * and the hot-swappable `ManagedSeam`, with their typed errors.
 */
export type { ChannelOptions, MuxStats } from "./ChannelView.js"
export { InvalidChannelName, InvalidChannelTag, SelfIdMismatch } from "./errors.js"
export type { InvalidChannelNameReason } from "./errors.js"
export { ManagedSeam } from "./ManagedSeam.js"
export type { ManagedSeamOptions, ManagedSeamStats } from "./ManagedSeam.js"
export { MuxSeam } from "./MuxSeam.js"
export type { MuxSeamOptions } from "./MuxSeam.js"
export { NamedMux } from "./NamedMux.js"
export type { NamedMuxOptions } from "./NamedMux.js"
