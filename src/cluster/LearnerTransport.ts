/**
 * A client's Raft transport: one stable transport for the client's whole life, whose link to the
 * cluster (its entry server's client room) is swapped on every failover (`ManagedSeam`), so the
 * client's node keeps its id, its log and its dedup identity across servers.
 *
 * Up, every frame goes to the entry server as `Raft { origin: self, dest: voter }`. Down, a frame is
 * accepted only from the entry server (not from another client of the room, which the relay would
 * let through), only for this client, and only from a voter the server named in `Attached`; the
 * rest is dropped and counted. While no server is attached the transport's peers are just itself,
 * so a proposal forwarded to the leader fails at once (`LeadershipLost`) and is retried after the
 * failover instead of waiting for an answer that cannot come.
 */
import { Effect, Either, Option, Stream } from "effect"
import type { Scope } from "effect"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { RaftTransportShape } from "../../services/raft/RaftTransport.js"
import { RAFT_TRANSPORT_FAST_PATH } from "../../services/raft/TransportFastPath.js"
import type { RaftTransportFastPath } from "../../services/raft/TransportFastPath.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { Cell } from "../internal/Cell.js"
import { ManagedSeam } from "../seam/ManagedSeam.js"
import { pumpFrames } from "../seam/pump.js"
import type { ClientMessage } from "./ClusterWire.js"
import { ClusterType, decodeClient, encodeEnvelope, ENVELOPE_OVERHEAD_BYTES, IdBytes } from "./ClusterWire.js"
import { FrameQueue } from "./FrameQueue.js"

/** Frames a client dropped, by cause (updated in place). */
export interface LearnerCounters {
  /** From someone other than the entry server (another client of the room). */
  droppedForeign: number
  /** Not for this client, or from a sender that is not a voter. */
  droppedNotVoter: number
  /** Undecodable, or of a type only a client sends. */
  droppedMalformed: number
  /** Sends while no server was attached, or that the link refused. */
  droppedUnattached: number
}

export interface LearnerTransport {
  readonly transport: RaftTransportShape
  /** Attaches to `server` through `seam` (the client room's seam), replacing any previous link. */
  readonly attach: (seam: SeamShape, server: string) => Effect.Effect<void>
  /** No server now (the link tore): the peers shrink to this client. */
  readonly detach: Effect.Effect<void>
  /** The voter core, as the first server named it (empty until then). */
  readonly voters: Cell<ReadonlySet<NodeId>>
  readonly counters: Readonly<LearnerCounters>
}

/**
 * Makes the transport of client `self`; `onServerFrame` gets the server's `Attached` and
 * `Admission` frames (from the entry server only), in order. Its fibers live in the current scope.
 */
export const make = (
  self: NodeId,
  onServerFrame: (server: string, message: Extract<ClientMessage, { readonly _tag: "Attached" | "Admission" }>) => void
): Effect.Effect<LearnerTransport, never, Scope.Scope> =>
  Effect.gen(function*() {
    const managed = yield* ManagedSeam.make(self as string as PeerId)
    const queue = new FrameQueue(4096)
    const ids = new IdBytes()
    const selfBytes = ids.of(self)
    const counters: LearnerCounters = { droppedForeign: 0, droppedNotVoter: 0, droppedMalformed: 0, droppedUnattached: 0 }
    const voters = new Cell<ReadonlySet<NodeId>>(new Set())
    const peers = new Cell<ReadonlySet<NodeId>>(new Set([self]))
    let server: string | undefined
    let linkUp = false
    const republish = () => {
      const next = new Set<NodeId>([self])
      if (server !== undefined && linkUp) for (const v of voters.value) next.add(v)
      const same = next.size === peers.value.size && [...next].every((p) => peers.value.has(p))
      if (!same) peers.set(next)
    }
    yield* queueCloses(queue)

    const onFrame = (sender: string, bytes: Uint8Array): void => {
      if (sender !== server) {
        counters.droppedForeign++
        return
      }
      const decoded = decodeClient(bytes)
      if (Either.isLeft(decoded)) {
        counters.droppedMalformed++
        return
      }
      const m = decoded.right
      switch (m._tag) {
        case "Raft":
          if (m.dest !== self || !voters.value.has(m.origin as NodeId)) {
            counters.droppedNotVoter++
            return
          }
          queue.offer(m.origin as NodeId, m.payload)
          return
        case "Attached":
          if (m.server !== sender) {
            counters.droppedMalformed++
            return
          }
          if (voters.value.size === 0) voters.set(new Set(m.voters as ReadonlyArray<NodeId>))
          republish()
          onServerFrame(sender, m)
          return
        case "Admission":
          onServerFrame(sender, m)
          return
      }
    }
    yield* Effect.forkScoped(pumpFrames(managed.incoming, (f) => void onFrame(f.sender, f.payload)))
    yield* Effect.forkScoped(Stream.runForEach(managed.peers.changes, (ps) => Effect.sync(() => {
      linkUp = server !== undefined && ps.has(server as PeerId)
      republish()
    })))

    const trySend = (peer: NodeId, bytes: Uint8Array): Effect.Effect<void> | undefined => {
      const to = server
      if (to === undefined || !linkUp || !voters.value.has(peer)) {
        counters.droppedUnattached++
        return undefined
      }
      return Effect.catchAll(
        managed.sendTo(to as PeerId, encodeEnvelope(ClusterType.Raft, selfBytes, ids.of(peer), bytes)),
        () => Effect.sync(() => void counters.droppedUnattached++)
      )
    }
    const fast: RaftTransportFastPath = { trySend, collect: (wake) => queue.tap(wake) }
    const transport: RaftTransportShape = {
      selfId: self,
      peers,
      incoming: queue.stream,
      sendTo: (peer, bytes) => Effect.suspend(() => trySend(peer, bytes) ?? Effect.void),
      get maxPayloadBytes() {
        return Option.map(managed.maxPayloadBytes, (b) => b - ENVELOPE_OVERHEAD_BYTES)
      }
    }
    return {
      transport: Object.assign(transport, { [RAFT_TRANSPORT_FAST_PATH]: fast }),
      attach: (seam, to) =>
        Effect.suspend(() => {
          server = to
          linkUp = false
          return Effect.zipRight(managed.swap(seam).pipe(Effect.orDie), Effect.flatMap(managed.peers.get, (ps) => Effect.sync(() => {
            linkUp = ps.has(to as PeerId)
            republish()
          })))
        }),
      detach: Effect.sync(() => {
        server = undefined
        linkUp = false
        republish()
      }),
      voters,
      counters
    }
  })

/** Closes `queue` with the scope (its stream completes; the node sees its transport end). */
const queueCloses = (queue: FrameQueue) => Effect.addFinalizer(() => Effect.sync(() => queue.close()))
