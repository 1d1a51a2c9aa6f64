/**
 * Raft over any Seam (kuilt-behaviour §1.4 "Transport"). Peer ids map to node ids by string
 * value. Sending is fire and forget: an absent peer (a partition), an over-budget frame (the budget
 * shrank after the entry was logged) or a torn seam drops the frame and counts it, because a
 * failure here would otherwise kill the engine over a condition Raft already tolerates.
 */
import { Effect, Stream, Subscribable } from "effect"
import type { Seam } from "../services/Seam.js"
import type { PeerId } from "../services/PeerId.js"
import type { NodeId } from "../services/raft/NodeId.js"
import type { RaftTransport } from "../services/raft/RaftTransport.js"

/** Frames a Seam-backed transport dropped, by cause. */
export interface SeamRaftTransportStats {
  droppedNotConnected: number
  droppedTooLarge: number
  droppedTorn: number
}

export interface SeamRaftTransport extends RaftTransport {
  readonly stats: SeamRaftTransportStats
}

/** Adapts `seam` (whose `incoming` it takes over: nobody else may collect it). */
export const fromSeam = (seam: Seam): SeamRaftTransport => {
  const stats: SeamRaftTransportStats = { droppedNotConnected: 0, droppedTooLarge: 0, droppedTorn: 0 }
  return {
    selfId: seam.selfId as string as NodeId,
    peers: Subscribable.map(seam.peers, (ps) => ps as ReadonlySet<string> as ReadonlySet<NodeId>),
    incoming: Stream.map(seam.incoming, (sw) => ({ from: sw.sender as string as NodeId, bytes: sw.payload })),
    sendTo: (peer, bytes) =>
      seam.sendTo(peer as string as PeerId, bytes).pipe(
        Effect.catchTags({
          PeerNotConnected: () => Effect.sync(() => void stats.droppedNotConnected++),
          PayloadTooLarge: (e) =>
            Effect.sync(() => void stats.droppedTooLarge++).pipe(
              Effect.zipRight(Effect.logWarning(`raft frame dropped: ${e.message}`))
            ),
          SeamTorn: () => Effect.sync(() => void stats.droppedTorn++)
        })
      ),
    get maxPayloadBytes() {
      return seam.maxPayloadBytes
    },
    stats
  }
}

export const SeamRaftTransport = { fromSeam }
