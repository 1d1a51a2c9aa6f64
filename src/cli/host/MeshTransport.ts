/**
 * The network of `kuilt serve`: a `RaftTransport` over a full mesh of WebSocket relays, one per
 * server, so no process is a single point of failure.
 *
 * Every server mounts a `WebSocketRelay` on its own HTTP port (`/kuilt`) and joins its own relay's
 * room as itself: that membership is its inbox. To send to peer P it joins P's relay as itself
 * (one outbound membership per peer) and addresses P there. The relay stamps the sender from the
 * connection, never from the frame. A peer that is down is retried in the background (a fresh
 * join with jittered backoff; once joined, the client's own resume/rejoin takes over), and frames
 * to it are dropped meanwhile — Raft retries by itself.
 *
 * Fault injection for operators and tests (`kuilt serve --allow-faults`): `isolate` drops every
 * frame in and out of this node, `cut(peer)` only those to and from `peer`, `heal` ends both. The
 * drops are silent, as a network partition's are.
 *
 * Failure modes: an own relay that cannot start fails `make` (`WeaveFailed`); a peer URL that never
 * answers only means frames to it are dropped (and counted in `stats.dropped`).
 */
import { Duration, Effect, Option, Schedule, Stream, SubscriptionRef } from "effect"
import type { Scope } from "effect"
import { WebSocketRelay } from "../../../layers/seam/websocket/node/WebSocketRelay.js"
import type { WebSocketRelayShape } from "../../../layers/seam/websocket/node/WebSocketRelay.js"
import { join as joinRoom } from "../../../layers/seam/websocket/client/WebSocketLoom.js"
import { layerWebSocketConstructor } from "@effect/platform-node/NodeSocket"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftTransportShape } from "../../../services/raft/RaftTransport.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../services/seam/Seam.js"
import { WeaveFailed } from "../../../services/seam/SeamErrors.js"

/** The room every server's relay holds for the Raft frames. */
export const ROOM = "kuilt-raft"
/** Where the relay is mounted on a server's HTTP port. */
export const RELAY_PATH = "/kuilt"

/** A server of the mesh: its node id and the base URL of its HTTP port (`http://host:port`). */
export interface MeshPeer {
  readonly id: string
  readonly url: string
}

export interface MeshTransport extends RaftTransportShape {
  /** Mount on the server's HTTP port at `RELAY_PATH`. */
  readonly relay: WebSocketRelayShape
  /** Drop every frame in and out (`true`) or stop doing so (`false`). */
  readonly isolate: (on: boolean) => Effect.Effect<void>
  /** Drop frames to and from `peer` (`true`) or stop doing so. */
  readonly cut: (peer: string, on: boolean) => Effect.Effect<void>
  /** What is cut right now. */
  readonly faults: Effect.Effect<{ readonly isolated: boolean; readonly cut: ReadonlyArray<string> }>
  readonly stats: { dropped: number; droppedByFault: number }
}

const wsUrl = (httpUrl: string): string => `${httpUrl.replace(/^http/i, "ws").replace(/\/$/, "")}${RELAY_PATH}`

/**
 * Builds the mesh for `self` in the caller's scope: the relay (not yet served: mount `relay.app`),
 * the inbox membership (joined once the server listens: call `start`) and the outbound joins.
 */
export const make = (
  self: MeshPeer,
  peers: ReadonlyArray<MeshPeer>
): Effect.Effect<MeshTransport & { readonly start: Effect.Effect<void, WeaveFailed, Scope.Scope> }, WeaveFailed, Scope.Scope> =>
  Effect.gen(function*() {
    // A restarted peer must get its slot back at once, so no reconnect window; all members reach
    // us from loopback in a local cluster, so the per-address cap is the room's size.
    const relay = yield* WebSocketRelay.make({ reconnectWindow: 0, roomCapacity: 64, maxConnectionsPerAddress: 256 })
    const others = peers.filter((p) => p.id !== self.id)
    const outbound = new Map<string, SeamShape>()
    const reachable = yield* SubscriptionRef.make<ReadonlySet<NodeId>>(new Set([self.id as NodeId]))
    let isolated = false
    const cuts = new Set<string>()
    const stats = { dropped: 0, droppedByFault: 0 }
    const blocked = (peer: string) => isolated || cuts.has(peer)
    const inbox = yield* SubscriptionRef.make<Option.Option<SeamShape>>(Option.none())

    const refreshReachable = Effect.suspend(() => {
      const set = new Set<NodeId>([self.id as NodeId])
      for (const id of outbound.keys()) set.add(id as NodeId)
      return SubscriptionRef.set(reachable, set)
    })

    const join = (url: string) =>
      joinRoom({ url: wsUrl(url), room: ROOM, peerId: self.id, displayName: self.id, connectTimeout: Duration.seconds(3) }).pipe(
        Effect.provide(layerWebSocketConstructor)
      )

    /** Joins `peer`'s relay until it answers, then keeps the membership (it reconnects by itself). */
    const connect = (peer: MeshPeer) =>
      join(peer.url).pipe(
        Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("2 seconds")), Schedule.jittered)),
        Effect.tap((room) =>
          Effect.zipRight(Effect.sync(() => outbound.set(peer.id, room.seam)), refreshReachable)
        ),
        Effect.tap((room) => Effect.logDebug(`linked to ${peer.id} at ${peer.url}`).pipe(Effect.annotateLogs({ node: self.id, peer: room.room })))
      )

    const start: Effect.Effect<void, WeaveFailed, Scope.Scope> = Effect.gen(function*() {
      const own = yield* join(self.url).pipe(
        Effect.retry(Schedule.recurs(20).pipe(Schedule.intersect(Schedule.spaced("100 millis")))),
        Effect.mapError((e) => new WeaveFailed({ reason: `cannot join the own relay: ${e.message}` }))
      )
      yield* SubscriptionRef.set(inbox, Option.some(own.seam))
      for (const peer of others) yield* Effect.forkScoped(connect(peer))
    })

    const incoming = inbox.changes.pipe(
      Stream.filterMap((o) => o),
      Stream.take(1),
      Stream.flatMap((seam) => seam.incoming),
      Stream.filter((sw) => {
        if (blocked(sw.sender)) {
          stats.droppedByFault++
          return false
        }
        return true
      }),
      Stream.map((sw) => ({ from: sw.sender as string as NodeId, bytes: sw.payload }))
    )

    const transport: MeshTransport & { readonly start: Effect.Effect<void, WeaveFailed, Scope.Scope> } = {
      selfId: self.id as NodeId,
      peers: reachable,
      incoming,
      sendTo: (peer, bytes) =>
        Effect.suspend(() => {
          if (blocked(peer)) {
            stats.droppedByFault++
            return Effect.void
          }
          const seam = outbound.get(peer)
          if (seam === undefined) {
            stats.dropped++
            return Effect.void
          }
          return seam.sendTo(peer as string as PeerId, bytes).pipe(Effect.catchAll(() => Effect.sync(() => void stats.dropped++)))
        }),
      get maxPayloadBytes() {
        return Option.some(relay.maxPayloadBytes)
      },
      relay,
      isolate: (on) => Effect.sync(() => void (isolated = on)),
      cut: (peer, on) => Effect.sync(() => void (on ? cuts.add(peer) : cuts.delete(peer))),
      faults: Effect.sync(() => ({ isolated, cut: [...cuts].sort() })),
      stats,
      start
    }
    return transport
  })
