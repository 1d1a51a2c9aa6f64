/**
 * Shared helpers of the WebSocket tests: a host on a loopback ephemeral port and Node clients
 * joining it, with bounded real-time waits (these tests use real sockets, so real time).
 */
import { NodeSocket } from "@effect/platform-node"
import { Data, Duration, Effect, Fiber, Option, Stream } from "effect"
import type { Scope } from "effect"
import * as WebSocketHost from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import { HostIdentity } from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import type { WebSocketHostOptions } from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import type { HostUnreachable, JoinRefused } from "../../../../layers/seam/websocket/WebSocketErrors.js"
import type { WebSocketAdvertisement, WebSocketRoom } from "../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { WebSocketLoom } from "../../../../layers/seam/websocket/client/WebSocketLoom.js"

/** A bounded wait of a test ran out. */
export class WaitTimedOut extends Data.TaggedError("WaitTimedOut")<{ readonly what: string }> {}

/**
 * A host with test-friendly timers unless overridden: a short reconnect window, and heartbeats
 * slow enough (1 s, so 3 s of silence) that a loaded CI machine does not time out healthy links.
 * Open by choice (these tests are about the protocol; identity has its own tests).
 */
export const startHost = (options: WebSocketHostOptions = {}) =>
  WebSocketHost.make({
    identity: HostIdentity.open(),
    heartbeatInterval: Duration.seconds(1),
    reconnectWindow: Duration.millis(500),
    handshakeTimeout: Duration.millis(1000),
    ...options
  }).pipe(Effect.orDie)

/** Joins `host` from Node. */
export const joinNode = (
  url: string,
  ad: Partial<WebSocketAdvertisement> = {}
): Effect.Effect<WebSocketRoom, JoinRefused | HostUnreachable, Scope.Scope> =>
  WebSocketLoom.join({ url, displayName: "node", connectTimeout: Duration.seconds(3), ...ad }).pipe(
    Effect.provide(NodeSocket.layerWebSocketConstructor)
  )

/** Polls `check` every 5 ms until true; dies after `ms` with `what` in the message. */
export const eventually = (what: string, check: Effect.Effect<boolean>, ms = 5_000): Effect.Effect<void> =>
  Effect.gen(function*() {
    const limit = Math.ceil(ms / 5)
    for (let i = 0; i < limit; i++) {
      if (yield* check) return
      yield* Effect.sleep(Duration.millis(5))
    }
    return yield* Effect.dieMessage(`timed out after ${ms} ms waiting until ${what}`)
  })

let probeRoom = 0

/**
 * Checks that `url`'s host still serves: two fresh clients join a fresh room and exchange a frame
 * each way within the bounded waits.
 */
export const hostStillServes = (url: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const room = `probe-${++probeRoom}`
    const a = yield* joinNode(url, { room, displayName: "probe-a" })
    const b = yield* joinNode(url, { room, displayName: "probe-b" })
    yield* eventually("the probes see each other", Effect.map(a.seam.peers.get, (p) => p.has(b.seam.selfId)))
    const atB = yield* Effect.fork(Stream.runHead(b.seam.incoming))
    const atA = yield* Effect.fork(Stream.runHead(a.seam.incoming))
    yield* a.seam.sendTo(b.seam.selfId, Uint8Array.of(1, 2, 3))
    yield* b.seam.sendTo(a.seam.selfId, Uint8Array.of(4, 5))
    const got = yield* Effect.all([Fiber.join(atB), Fiber.join(atA)]).pipe(
      Effect.timeoutFail({ duration: Duration.seconds(3), onTimeout: () => new WaitTimedOut({ what: "probe exchange timed out" }) })
    )
    const [fromA, fromB] = got.map(Option.getOrThrow)
    if (fromA!.sender !== a.seam.selfId || fromA!.payloadSize !== 3 || fromB!.sender !== b.seam.selfId || fromB!.payloadSize !== 2) {
      return yield* Effect.dieMessage("probe exchange delivered the wrong frames")
    }
  }).pipe(Effect.orDie)
