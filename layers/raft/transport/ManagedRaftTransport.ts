/**
 * A `RaftTransport` whose backing Seam can be replaced without recreating the Raft node (the
 * original library's `ManagedRaftTransport`): the node keeps its identity, log and state across
 * reconnects; only the connection is swapped when the entry server changes.
 *
 * Built from `ManagedSeam` (stable identity, ordered swaps, one `incoming` across swaps) and
 * `SeamRaftTransport` (fire-and-forget sends). Until the first `swapSeam` the transport has no
 * peers but itself and drops every send; on each swap it republishes the new seam's peers and
 * budget. The caller owns the seams it swaps in (it wove them in its own scope).
 */
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../services/seam/Seam.js"
import type { SeamTorn } from "../../../services/seam/SeamErrors.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftTransport } from "../../../services/raft/RaftTransport.js"
import type { RaftTransportShape } from "../../../services/raft/RaftTransport.js"
import type { SelfIdMismatch } from "../../../src/seam/errors.js"
import { ManagedSeam } from "../../../src/seam/ManagedSeam.js"
import type { ManagedSeamStats } from "../../../src/seam/ManagedSeam.js"
import { fromSeam } from "./SeamRaftTransport.js"
import type { SeamRaftTransportStats } from "./SeamRaftTransport.js"

/** A `RaftTransport` plus the controls of its swappable backing seam. */
export interface ManagedRaftTransportShape extends RaftTransportShape {
  /**
   * Replaces the backing seam (e.g. after a reconnect). Fails with `SelfIdMismatch` when the seam
   * belongs to another peer, and with `SeamTorn` once the transport was closed.
   */
  readonly swapSeam: (seam: SeamShape) => Effect.Effect<void, SelfIdMismatch | SeamTorn>
  /** Sends dropped by the Raft adapter (absent peer, over budget, torn). */
  readonly stats: SeamRaftTransportStats
  /** Swaps and sends dropped while unbacked or torn. */
  readonly seamStats: Readonly<ManagedSeamStats>
}

/** A managed transport for node `selfId`, bound to the caller's Scope. */
export const make = (selfId: NodeId): Effect.Effect<ManagedRaftTransportShape, never, Scope.Scope> =>
  Effect.map(ManagedSeam.make(selfId as string as PeerId), (managed) => {
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

/**
 * One managed transport for node `selfId`, provided as the `RaftTransport` (for `RaftNode.layer`)
 * and as the `ManagedRaftTransport` (for the code that swaps seams in), closed with the Layer's
 * scope.
 */
export const layer = (selfId: NodeId): Layer.Layer<RaftTransport | ManagedRaftTransport> =>
  Layer.scopedContext(
    Effect.map(make(selfId), (t) => Context.make(ManagedRaftTransport, t).pipe(Context.add(RaftTransport, t)))
  )

/**
 * The managed transport as a service (its interface is `ManagedRaftTransportShape`), with its
 * constructors `ManagedRaftTransport.make(selfId)` and `ManagedRaftTransport.layer(selfId)`.
 */
export class ManagedRaftTransport
  extends Context.Tag("kuilt/ManagedRaftTransport")<ManagedRaftTransport, ManagedRaftTransportShape>()
{
  static readonly make = make
  static readonly layer = layer
}
