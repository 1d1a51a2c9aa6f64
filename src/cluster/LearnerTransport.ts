/**
 * A client's Raft transport: one stable transport for the client's whole life, whose link to the
 * cluster (its entry server's client room) is swapped on every failover, so the client's node keeps
 * its id, its log and its dedup identity across servers. The link is drained synchronously
 * (`SeamTap`); a swap stops listening to the old link before the new one is heard.
 *
 * Up, every frame goes to the entry server as `Raft { origin: self, dest: voter }`. Down, a frame is
 * accepted only from the entry server (not from another client of the room, which the relay would
 * let through), only for this client, and only from a voter the server named in `Attached`; the
 * rest is dropped and counted. While no server is attached the transport's peers are just itself,
 * so a proposal forwarded to the leader fails at once (`LeadershipLost`) and is retried after the
 * failover instead of waiting for an answer that cannot come.
 */
import { Effect, Either, Fiber, Option, Scope, Stream } from "effect"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { RaftTransportShape } from "../../services/raft/RaftTransport.js"
import { RAFT_TRANSPORT_FAST_PATH } from "../../services/raft/TransportFastPath.js"
import type { RaftTransportFastPath } from "../../services/raft/TransportFastPath.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { Cell } from "../internal/Cell.js"
import { SEAM_FAST_PATH } from "../seam/Inbox.js"
import type { SeamFastPath } from "../seam/Inbox.js"
import { SeamTap } from "../../layers/seam/mesh/SeamTap.js"
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
    const scope = yield* Effect.scope
    const queue = new FrameQueue(4096)
    yield* Effect.addFinalizer(() => Effect.sync(() => queue.close()))
    const ids = new IdBytes()
    const selfBytes = ids.of(self)
    const counters: LearnerCounters = { droppedForeign: 0, droppedNotVoter: 0, droppedMalformed: 0, droppedUnattached: 0 }
    const voters = new Cell<ReadonlySet<NodeId>>(new Set())
    const peers = new Cell<ReadonlySet<NodeId>>(new Set([self]))
    /** The current link: the entry server's id, its seam, and how to stop listening to it. */
    let link: { readonly server: string; readonly seam: SeamShape; readonly fast: SeamFastPath | undefined; up: boolean } | undefined
    let stopLink: Effect.Effect<void> = Effect.void
    const republish = () => {
      const next = new Set<NodeId>([self])
      if (link !== undefined && link.up) for (const v of voters.value) next.add(v)
      const same = next.size === peers.value.size && [...next].every((p) => peers.value.has(p))
      if (!same) peers.set(next)
    }

    const onFrame = (server: string) => (sender: PeerId, bytes: Uint8Array): undefined => {
      if (sender !== server || link?.server !== server) {
        counters.droppedForeign++
        return undefined
      }
      const decoded = decodeClient(bytes)
      if (Either.isLeft(decoded)) {
        counters.droppedMalformed++
        return undefined
      }
      const m = decoded.right
      switch (m._tag) {
        case "Raft":
          if (m.dest !== self || !voters.value.has(m.origin as NodeId)) {
            counters.droppedNotVoter++
            return undefined
          }
          queue.offer(m.origin as NodeId, m.payload)
          return undefined
        case "Attached":
          if (m.server !== sender) {
            counters.droppedMalformed++
            return undefined
          }
          if (voters.value.size === 0) voters.set(new Set(m.voters as ReadonlyArray<NodeId>))
          republish()
          onServerFrame(sender, m)
          return undefined
        case "Admission":
          onServerFrame(sender, m)
          return undefined
      }
    }

    const trySend = (peer: NodeId, bytes: Uint8Array): Effect.Effect<void> | undefined => {
      const l = link
      if (l === undefined || !l.up || !voters.value.has(peer)) {
        counters.droppedUnattached++
        return undefined
      }
      const frame = encodeEnvelope(ClusterType.Raft, selfBytes, ids.of(peer), bytes)
      const rest = l.fast === undefined ? l.seam.sendTo(l.server as PeerId, frame) : l.fast.trySend(l.server as PeerId, frame)
      return rest === undefined ? undefined : Effect.catchAll(rest, () => Effect.sync(() => void counters.droppedUnattached++))
    }
    const fast: RaftTransportFastPath = { trySend, collect: (wake) => queue.tap(wake) }
    const transport: RaftTransportShape = {
      selfId: self,
      peers,
      incoming: queue.stream,
      sendTo: (peer, bytes) => Effect.suspend(() => trySend(peer, bytes) ?? Effect.void),
      get maxPayloadBytes() {
        return link === undefined ? Option.none() : Option.map(link.seam.maxPayloadBytes, (b) => b - ENVELOPE_OVERHEAD_BYTES)
      }
    }

    const detach = Effect.suspend(() => {
      const stop = stopLink
      stopLink = Effect.void
      link = undefined
      republish()
      return stop
    })
    const attach = (seam: SeamShape, server: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* detach
        const l = { server, seam, fast: (seam as Partial<Record<typeof SEAM_FAST_PATH, SeamFastPath>>)[SEAM_FAST_PATH], up: false }
        link = l
        const drain = yield* SeamTap.tap(seam, onFrame(server)).pipe(Scope.extend(scope))
        const follow = (ps: ReadonlySet<PeerId>, woven: boolean) => {
          l.up = woven && ps.has(server as PeerId)
          if (link === l) republish()
        }
        const follower = yield* Effect.forkIn(
          Stream.runForEach(Stream.zipLatest(seam.peers.changes, seam.state.changes), ([ps, st]) => Effect.sync(() => follow(ps, st._tag === "Woven"))),
          scope
        )
        follow(yield* seam.peers.get, (yield* seam.state.get)._tag === "Woven")
        stopLink = Effect.zipRight(drain.stop, Fiber.interrupt(follower))
      })
    return { transport: Object.assign(transport, { [RAFT_TRANSPORT_FAST_PATH]: fast }), attach, detach, voters, counters }
  })
