/**
 * How a loom is asked to weave: `Pattern` to host a new session, `Tag` to join an existing one.
 */

/** Host a session. `maxPeers` counts the host. */
export interface Pattern {
  readonly sessionName: string
  readonly maxPeers?: number
  readonly roomKey?: string
  /** Request a stable peer id for the host (fabrics that assign ids may refuse it). */
  readonly peerKey?: string
}

/** Join a session. `peerKey` requests a stable peer id (needed for stable Raft node ids). */
export interface Tag {
  readonly sessionName: string
  readonly peerKey?: string
  readonly roomKey?: string
}

/** Default `maxPeers` of a `Pattern` (the original library's default). */
export const DEFAULT_MAX_PEERS = 6
