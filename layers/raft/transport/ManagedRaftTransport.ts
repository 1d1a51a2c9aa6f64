/**
 * A `RaftTransport` whose backing Seam can be replaced without recreating the Raft node (seed page
 * 000, the original `ManagedRaftTransport`): the node keeps its identity, log and state across
 * reconnects; only the connection is swapped when the entry server changes.
 *
 * Built from `ManagedSeam` (stable identity, ordered swaps, one `incoming` across swaps) and
 * `SeamRaftTransport` (fire-and-forget sends). Until the first `swapSeam` the transport has no
 * peers but itself and drops every send; on each swap it republishes the new seam's peers and
 * budget. The caller owns the seams it swaps in (it wove them in its own scope).
 */
import type { Effect, Scope } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { Seam } from "../../../services/seam/Seam.js"
import type { SeamTorn } from "../../../services/seam/SeamErrors.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftTransport } from "../../../services/raft/RaftTransport.js"
import type { SelfIdMismatch } from "../../../src/seam/errors.js"
import { ManagedSeam } from "../../../src/seam/ManagedSeam.js"
import type { ManagedSeamStats } from "../../../src/seam/ManagedSeam.js"
import { fromSeam } from "./SeamRaftTransport.js"
import type { SeamRaftTransportStats } from "./SeamRaftTransport.js"
import { Effect as E } from "effect"

export interface ManagedRaftTransport extends RaftTransport {
  /**
   * Replaces the backing seam (e.g. after a reconnect). Fails with `SelfIdMismatch` when the seam
   * belongs to another peer, and with `SeamTorn` once the transport was closed.
   */
  readonly swapSeam: (seam: Seam) => Effect.Effect<void, SelfIdMismatch | SeamTorn>
  /** Sends dropped by the Raft adapter (absent peer, over budget, torn). */
  readonly stats: SeamRaftTransportStats
  /** Swaps and sends dropped while unbacked or torn. */
  readonly seamStats: Readonly<ManagedSeamStats>
}

/** A managed transport for node `selfId`, bound to the caller's Scope. */
export const make = (selfId: NodeId): Effect.Effect<ManagedRaftTransport, never, Scope.Scope> =>
  E.map(ManagedSeam.make(selfId as string as PeerId), (managed) => {
    const raft = fromSeam(managed)
    return {
      selfId: raft.selfId,
      peers: raft.peers,
      incoming: raft.incoming,
      sendTo: raft.sendTo,
      // A getter: the budget follows whichever seam is swapped in.
      get maxPayloadBytes() {
        return managed.maxPayloadBytes
      },
      swapSeam: (seam) => managed.swap(seam),
      stats: raft.stats,
      seamStats: managed.stats
    }
  })

export const ManagedRaftTransport = { make }
