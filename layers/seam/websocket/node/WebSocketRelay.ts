/**
 * `WebSocketRelay`: the kuilt WebSocket relay as an `@effect/platform` `HttpApp`, to mount on any
 * route of a Node `HttpServer` — so one port serves the relay beside health, metrics and an app's
 * own routes. `WebSocketHost.make` is this app on a server of its own.
 *
 * The app upgrades the request (after the `Origin` check: 403), then speaks the protocol of
 * `layers/seam/websocket/Protocol.ts` on the socket. Rooms, identity, limits and counters live in
 * the relay, not in the server: a relay mounted twice is one set of rooms.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Context, Duration, Effect, Exit, Layer, Schedule } from "effect"
import type { Scope } from "effect"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import { randomUUID } from "node:crypto"
import type { Socket as NetSocket } from "node:net"
import type { WebSocket as WsSocket } from "ws"
import { WeaveFailed } from "../../../../services/seam/SeamErrors.js"
import { CLOSE_MESSAGE_TOO_BIG } from "../RejectCode.js"
import { authenticatorOf, HostIdentity } from "./HostIdentity.js"
import type { Connection, HostLink } from "./HostMembers.js"
import { onMessage } from "./HostHandshake.js"
import { HostMetrics } from "./HostMetrics.js"
import { makeLocalMember } from "./LocalMember.js"
import type { LocalMemberOptions } from "./LocalMember.js"
import { limitIncomingFrames, webSocketOfSocket } from "./wsSocket.js"
import type { HostCounters, ResolvedHostOptions, RoomStats, WebSocketRelayOptions } from "./WebSocketHostOptions.js"
import { HostRooms } from "./WebSocketHostRooms.js"
import { Turns } from "./Turns.js"

/** A running relay: an `HttpApp` plus the rooms it serves. Stops when its scope closes. */
export interface WebSocketRelayShape {
  /** Serve this on a route of an `HttpServer` (it answers 426 to requests that are not upgrades). */
  readonly app: HttpApp.Default<never, HttpServerRequest.HttpServerRequest>
  readonly serverPeerId: string
  /** The payload budget members get (`maxFrameBytes - RELAY_OVERHEAD_BYTES`). */
  readonly maxPayloadBytes: number
  /** The rooms and their members right now. */
  readonly rooms: Effect.Effect<ReadonlyArray<RoomStats>>
  /** Live counters (updated in place; also published as Effect metrics, see `HostMetrics`). */
  readonly counters: Readonly<HostCounters>
  /**
   * Destroys a member's connection without a close handshake, as a network failure would; the
   * member keeps its slot for the reconnect window. `false` when it has no live connection.
   */
  readonly dropLink: (room: string, peerId: string) => Effect.Effect<boolean>
  /**
   * Admits an in-process member (`LocalMember.ts`): the server's own seam in `room`, relayed like
   * any member's but without a socket. Lives in the caller's scope. Fails with `WeaveFailed` when
   * the id is live in the room or the room or relay is full.
   */
  readonly member: (room: string, peerId: string, options?: LocalMemberOptions) => Effect.Effect<SeamShape, WeaveFailed, Scope.Scope>
  /**
   * Closes every connection with `HostClosing`, waits (up to 1 s) for the closes to complete and
   * destroys what is left; later upgrades get 503. Runs when the relay's scope closes.
   */
  readonly close: Effect.Effect<void>
}

const millis = (d: Duration.DurationInput | undefined, fallback: number): number =>
  d === undefined ? fallback : Duration.toMillis(Duration.decode(d))

/** Fills in every default (durations in ms). */
export const resolveOptions = (o: WebSocketRelayOptions): ResolvedHostOptions => {
  const maxFrameBytes = o.maxFrameBytes ?? 1024 * 1024
  const messagesPerSecond = o.rateLimit?.messagesPerSecond ?? 20_000
  const bytesPerSecond = o.rateLimit?.bytesPerSecond ?? 32 * 1024 * 1024
  return {
    serverPeerId: o.serverPeerId ?? randomUUID(),
    maxFrameBytes,
    maxHelloBytes: o.maxHelloBytes ?? 8 * 1024,
    maxOutboundBytesPerConnection: o.maxOutboundBytesPerConnection ?? 4 * 1024 * 1024,
    slowConsumerGraceMs: millis(o.slowConsumerGrace, 1_000),
    roomCapacity: o.roomCapacity ?? 64,
    maxRooms: o.maxRooms ?? 1024,
    maxConnections: o.maxConnections ?? 1024,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress ?? 64,
    messagesPerSecond,
    messageBurst: o.rateLimit?.messageBurst ?? messagesPerSecond,
    bytesPerSecond,
    byteBurst: o.rateLimit?.byteBurst ?? Math.max(bytesPerSecond, maxFrameBytes),
    maxFramesPerTurn: o.maxFramesPerTurn ?? 64,
    handshakeTimeoutMs: millis(o.handshakeTimeout, 5_000),
    reconnectWindowMs: millis(o.reconnectWindow, 10_000),
    heartbeatIntervalMs: millis(o.heartbeatInterval, 5_000),
    maxBadFrames: o.maxBadFrames ?? 100,
    allowedOrigins: o.allowedOrigins
  }
}

const validate = (o: ResolvedHostOptions): string | undefined => {
  const positive: ReadonlyArray<[string, number]> = [
    ["maxFrameBytes", o.maxFrameBytes],
    ["maxHelloBytes", o.maxHelloBytes],
    ["maxOutboundBytesPerConnection", o.maxOutboundBytesPerConnection],
    ["roomCapacity", o.roomCapacity],
    ["maxRooms", o.maxRooms],
    ["maxConnections", o.maxConnections],
    ["maxConnectionsPerAddress", o.maxConnectionsPerAddress],
    ["rateLimit.messagesPerSecond", o.messagesPerSecond],
    ["rateLimit.messageBurst", o.messageBurst],
    ["rateLimit.bytesPerSecond", o.bytesPerSecond],
    ["rateLimit.byteBurst", o.byteBurst],
    ["maxFramesPerTurn", o.maxFramesPerTurn],
    ["handshakeTimeout", o.handshakeTimeoutMs],
    ["heartbeatInterval", o.heartbeatIntervalMs]
  ]
  for (const [name, value] of positive) if (!(value > 0)) return `${name} must be positive, got ${value}`
  if (o.maxFrameBytes < 2048) return `maxFrameBytes must be at least 2048, got ${o.maxFrameBytes}`
  if (!(o.reconnectWindowMs >= 0)) return `reconnectWindow must not be negative`
  if (!(o.slowConsumerGraceMs >= 0)) return `slowConsumerGrace must not be negative`
  if (o.roomCapacity > 4096) return `roomCapacity must be at most 4096 (the roster frame's limit)`
  return undefined
}

const newCounters = (): HostCounters => ({
  connectionsOpened: 0,
  admitted: 0,
  resumed: 0,
  takeovers: 0,
  rejected: {},
  originRefused: 0,
  relayed: 0,
  broadcasts: 0,
  framesDelivered: 0,
  bytesDelivered: 0,
  rateLimited: 0,
  deferredFrames: 0,
  droppedNoPeer: 0,
  droppedOverBudget: 0,
  droppedBadFrames: 0,
  slowConsumers: 0,
  droppedSlowConsumer: 0,
  heartbeatTimeouts: 0,
  windowsExpired: 0
})

const OPEN_HOST_WARNING = [
  "kuilt WebSocket relay is OPEN: no identity is configured, so any client may claim any free peer id",
  "(and a restarted peer waits out the reconnect window for its own slot).",
  "Deploy with `identity: HostIdentity.sharedSecret({ secret })` or `HostIdentity.verifier(...)`."
].join(" ")

const linkOf = (ws: WsSocket, origin: string | undefined, address: string | undefined): HostLink => ({
  send: (bytes) => ws.send(bytes),
  bufferedAmount: () => ws.bufferedAmount,
  close: (code, reason) => ws.close(code, reason),
  terminate: () => ws.terminate(),
  pause: () => ws.pause(),
  resume: () => ws.resume(),
  origin,
  address
})

/**
 * Makes a relay in the current scope. Fails with `WeaveFailed` when an option is out of range or the
 * identity's secret is unusable. Logs a warning when no identity is configured.
 */
export const make = (options: WebSocketRelayOptions = {}): Effect.Effect<WebSocketRelayShape, WeaveFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const o = resolveOptions(options)
    const invalid = validate(o)
    if (invalid !== undefined) return yield* new WeaveFailed({ reason: invalid })
    const identity = options.identity ?? HostIdentity.open()
    const authenticate = yield* authenticatorOf(identity).pipe(Effect.mapError((e) => new WeaveFailed({ reason: e.message })))
    if (options.identity === undefined) yield* Effect.logWarning(OPEN_HOST_WARNING)
    else if (identity._tag === "Open") yield* Effect.logInfo("kuilt WebSocket relay is open by choice (HostIdentity.open())")
    const counters = newCounters()
    const clock = yield* Effect.clock
    const rooms = new HostRooms(o, counters, () => clock.unsafeCurrentTimeMillis())
    const turns = new Turns()
    const metrics = new HostMetrics(o.serverPeerId, counters)
    rooms.sweep(clock.unsafeCurrentTimeMillis())
    const allowed = o.allowedOrigins === undefined ? undefined : new Set(o.allowedOrigins)
    let closing = false

    const app: HttpApp.Default<never, HttpServerRequest.HttpServerRequest> = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const origin = request.headers["origin"]
      if (allowed !== undefined && origin !== undefined && !allowed.has(origin)) {
        counters.originRefused++
        return HttpServerResponse.text("origin not allowed", { status: 403 })
      }
      if (closing) return HttpServerResponse.text("the relay is closing", { status: 503 })
      const upgraded = yield* Effect.either(request.upgrade)
      if (upgraded._tag === "Left") return HttpServerResponse.text("a WebSocket upgrade is required", { status: 426 })
      const socket = upgraded.right
      const net = NodeHttpServerRequest.toIncomingMessage(request).socket as NetSocket
      const address = net.remoteAddress
      let conn: Connection | undefined
      const exit = yield* socket.run(
        (data) => (conn === undefined ? undefined : onMessage(rooms, authenticate, turns, conn, data)),
        {
          // Runs as soon as the socket is open, before any client frame is read (the upgrade
          // callback resumes this fiber within the same turn of the event loop).
          onOpen: Effect.suspend(() => {
            const ws = webSocketOfSocket(net)
            if (ws === undefined) {
              net.destroy()
              return Effect.logError("kuilt relay: cannot reach the upgraded WebSocket (unsupported ws version?)")
            }
            limitIncomingFrames(ws, o.maxFrameBytes)
            conn = rooms.open(linkOf(ws, origin, address), rooms.now())
            return Effect.void
          })
        }
      ).pipe(Effect.exit)
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        if (error !== undefined && error.reason === "Close" && "code" in error && error.code === CLOSE_MESSAGE_TOO_BIG) {
          counters.rejected["MessageTooBig"] = (counters.rejected["MessageTooBig"] ?? 0) + 1
        }
      }
      if (conn !== undefined) rooms.onClose(conn)
      return HttpServerResponse.empty()
    })

    // One sweep fiber for every timer of the relay (handshakes, pings, heartbeats, windows, slow
    // readers' grace) and the metrics.
    const tick = Math.max(5, Math.min(o.heartbeatIntervalMs, o.handshakeTimeoutMs, o.reconnectWindowMs || Infinity) / 4)
    const sweep = Effect.sync(() => {
      rooms.sweep(clock.unsafeCurrentTimeMillis())
      metrics.flush(rooms)
    })
    yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(Duration.millis(tick))))

    const close = Effect.gen(function*() {
      closing = true
      rooms.closeAll()
      for (let i = 0; i < 100 && rooms.connections.size > 0; i++) yield* Effect.sleep(Duration.millis(10))
      rooms.terminateAll()
      metrics.flush(rooms)
    })
    yield* Effect.addFinalizer(() => close)
    const relay: WebSocketRelayShape = {
      app,
      serverPeerId: o.serverPeerId,
      maxPayloadBytes: rooms.budget,
      rooms: Effect.sync(() => rooms.stats()),
      counters,
      dropLink: (room, peerId) => Effect.sync(() => rooms.dropLink(room, peerId)),
      member: (room, peerId, memberOptions) =>
        closing ? Effect.fail(new WeaveFailed({ reason: "the relay is closing" })) : makeLocalMember(rooms, room, peerId, memberOptions),
      close
    }
    return relay
  })

/**
 * A relay as a Layer. Provide it to the layer that serves its `app` (not beside it), so the relay
 * is released before the `HttpServer`: the server's shutdown waits for every WebSocket to close,
 * and only the relay closes them.
 */
export const layer = (options: WebSocketRelayOptions = {}): Layer.Layer<WebSocketRelay, WeaveFailed> =>
  Layer.scoped(WebSocketRelay, make(options))

/**
 * The relay as a service (its interface is `WebSocketRelayShape`), with its constructors:
 * `WebSocketRelay.make(options)` in the caller's scope, `WebSocketRelay.layer(options)`.
 */
export class WebSocketRelay extends Context.Tag("kuilt/WebSocketRelay")<WebSocketRelay, WebSocketRelayShape>() {
  static readonly make = make
  static readonly layer = layer
}
