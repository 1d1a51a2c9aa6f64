/**
 * Raft over any Seam (docs/ARCHITECTURE.md, "Seams"). Peer ids map to node ids by string
 * value. Sending is fire and forget: an absent peer (a partition), an over-budget frame (the budget
 * shrank after the entry was logged) or a torn seam drops the frame and counts it, because a
 * failure here would otherwise kill the engine over a condition Raft already tolerates.
 *
 * Over a seam that carries a `SeamFastPath` (an in-process fabric such as `InMemoryLoom`), the
 * transport also carries the engine's `RaftTransportFastPath`: the same sends and frames, without
 * an Effect per send or a Stream element per frame.
 */
import { Effect, Layer, Stream, Subscribable } from "effect"
import { Seam } from "../../../services/seam/Seam.js"
import type { SeamShape } from "../../../services/seam/Seam.js"
import type { SendError } from "../../../services/seam/SeamErrors.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftTransport } from "../../../services/raft/RaftTransport.js"
import type { RaftTransportShape } from "../../../services/raft/RaftTransport.js"
import { RAFT_TRANSPORT_FAST_PATH } from "../../../services/raft/TransportFastPath.js"
import type { FrameSource, RaftTransportFastPath } from "../../../services/raft/TransportFastPath.js"
import { SEAM_FAST_PATH } from "../../../src/seam/Inbox.js"
import type { SeamFastPath } from "../../../src/seam/Inbox.js"

/** Frames a Seam-backed transport dropped, by cause. */
export interface SeamRaftTransportStats {
  droppedNotConnected: number
  droppedTooLarge: number
  droppedTorn: number
}

export interface SeamRaftTransport extends RaftTransportShape {
  readonly stats: SeamRaftTransportStats
}

/** Adapts `seam` (whose `incoming` it takes over: nobody else may collect it). */
export const fromSeam = (seam: SeamShape): SeamRaftTransport => {
  const stats: SeamRaftTransportStats = { droppedNotConnected: 0, droppedTooLarge: 0, droppedTorn: 0 }
  const absorb = (send: Effect.Effect<void, SendError>): Effect.Effect<void> =>
    send.pipe(
      Effect.catchTags({
        PeerNotConnected: () => Effect.sync(() => void stats.droppedNotConnected++),
        PayloadTooLarge: (e) =>
          Effect.sync(() => void stats.droppedTooLarge++).pipe(
            Effect.zipRight(Effect.logWarning(`raft frame dropped: ${e.message}`))
          ),
        SeamTorn: () => Effect.sync(() => void stats.droppedTorn++)
      })
    )
  const transport: SeamRaftTransport = {
    selfId: seam.selfId as string as NodeId,
    peers: Subscribable.map(seam.peers, (ps) => ps as ReadonlySet<string> as ReadonlySet<NodeId>),
    incoming: Stream.map(seam.incoming, (sw) => ({ from: sw.sender as string as NodeId, bytes: sw.payload })),
    sendTo: (peer, bytes) => absorb(seam.sendTo(peer as string as PeerId, bytes)),
    get maxPayloadBytes() {
      return seam.maxPayloadBytes
    },
    stats
  }
  const seamFast = (seam as Partial<Record<typeof SEAM_FAST_PATH, SeamFastPath>>)[SEAM_FAST_PATH]
  if (seamFast === undefined) return transport
  const fast: RaftTransportFastPath = {
    trySend: (peer, bytes) => {
      const rest = seamFast.trySend(peer as string as PeerId, bytes)
      return rest === undefined ? undefined : absorb(rest)
    },
    collect: (wake) => {
      const tap = seamFast.collect(wake)
      if (tap === undefined) return undefined
      const source: FrameSource = {
        pending: tap.pending,
        // Peer ids are node ids by string value (see above): the callback takes them as they are.
        drain: (f) => tap.drain(f as unknown as (from: PeerId, payload: Uint8Array) => void)
      }
      return source
    }
  }
  return Object.assign(transport, { [RAFT_TRANSPORT_FAST_PATH]: fast })
}

/**
 * The `RaftTransport` over the `Seam` in context (`Loom.layerHost`/`Loom.layerJoin`, or your own
 * `Layer<Seam>`). It takes over the seam's `incoming`: nothing else may collect it.
 */
export const layer: Layer.Layer<RaftTransport, never, Seam> = Layer.effect(RaftTransport, Effect.map(Seam, fromSeam))

/**
 * Raft over any Seam: `SeamRaftTransport.fromSeam(seam)` adapts a seam you hold,
 * `SeamRaftTransport.layer` the one in context.
 */
export const SeamRaftTransport = { fromSeam, layer } as const
