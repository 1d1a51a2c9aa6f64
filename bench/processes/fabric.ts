/**
 * The only module of the cross-process benchmark that touches the WebSocket fabric's options:
 * how the host process starts its `WebSocketHost` and how a node process joins a room with
 * `WebSocketLoom.join`. Both go through the public `kuilt/node` entry point. When the host's or
 * the join's options change (identity tokens, restart, rate limits), adapt them here only.
 *
 * Everything else in the harness sees a host as `{ url }` and a member as a plain `Seam`.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { WebSocketConstructorNode, WebSocketHost, WebSocketLoom } from "../../src/node.js"
import type { SeamShape } from "../../src/node.js"

/** What the host process tells the controller (and the controller passes to every member). */
export interface HostInfo {
  readonly url: string
  readonly serverPeerId: string
}

/** Counters the host reports after a phase (the subset the benchmark prints). */
export interface HostFigures {
  readonly relayed: number
  /** Times a connection was paused for exceeding the host's default per-connection rate. */
  readonly rateLimited: number
  /** Frames handled in a later turn because their connection used its `maxFramesPerTurn`. */
  readonly deferredFrames: number
  readonly slowConsumers: number
  readonly droppedSlowConsumer: number
  readonly heartbeatTimeouts: number
  readonly droppedNoPeer: number
  readonly droppedOverBudget: number
}

/**
 * Members one room may hold: the voters plus room for learner processes a later benchmark adds
 * (issue 22 spreads up to 1,000 learners over separate processes).
 */
const ROOM_CAPACITY = 1_100

/**
 * Starts the host on loopback, on a free port, with default limits (rate limits included) except
 * the room size and the connection counts, which every member reaches from 127.0.0.1.
 */
export const startHost = (): Effect.Effect<HostInfo & { readonly figures: () => HostFigures }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const host = yield* WebSocketHost.make({
      roomCapacity: ROOM_CAPACITY,
      maxConnections: ROOM_CAPACITY + 64,
      maxConnectionsPerAddress: ROOM_CAPACITY + 64
    }).pipe(Effect.orDie)
    return {
      url: host.url,
      serverPeerId: host.serverPeerId,
      figures: () => ({
        relayed: host.counters.relayed,
        rateLimited: host.counters.rateLimited,
        deferredFrames: host.counters.deferredFrames,
        slowConsumers: host.counters.slowConsumers,
        droppedSlowConsumer: host.counters.droppedSlowConsumer,
        heartbeatTimeouts: host.counters.heartbeatTimeouts,
        droppedNoPeer: host.counters.droppedNoPeer,
        droppedOverBudget: host.counters.droppedOverBudget
      })
    }
  })

/** Joins `room` on the host as `peerId` (a Raft node id) with default client options. */
export const joinRoom = (host: HostInfo, room: string, peerId: string): Effect.Effect<SeamShape, never, Scope.Scope> =>
  WebSocketLoom.join({ url: host.url, serverPeerId: host.serverPeerId, room, peerId, displayName: peerId }).pipe(
    Effect.map((joined) => joined.seam),
    Effect.provide(WebSocketConstructorNode),
    Effect.orDie
  )
