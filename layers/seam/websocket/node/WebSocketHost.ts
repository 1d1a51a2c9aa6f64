/**
 * `WebSocketHost`: a Node relay host for kuilt rooms (wire protocol in `../Protocol.ts`), on
 * `@effect/platform-node`'s WebSocket server.
 *
 * A client connects, sends a `Hello` (room, display name, session id, protocol version, optional
 * requested peer id, credentials and resume token) and gets a `Welcome` (its peer id, a resume
 * token, the room's roster, the payload budget) or a `Reject` with a `RejectCode` (also the close
 * code). Members then send `RelayTo(peer)` / `Broadcast` frames; the host forwards them as
 * `RelayFrom(sender)` with the sender taken from the connection, never from the frame.
 *
 * Limits and policies (defaults in `WebSocketHostOptions`): frames over `maxFrameBytes` close the
 * connection with 1009 at the socket level; the first frame must be a well-formed `Hello` of at
 * most `maxHelloBytes` within `handshakeTimeout`; a connection whose unsent bytes would exceed
 * `maxOutboundBytesPerConnection` is disconnected (`SlowConsumer`); a connection silent for three
 * heartbeat intervals is closed (`HeartbeatTimeout`); a dropped member keeps its slot for
 * `reconnectWindow` and can resume with its token; rooms, members per room and connections are
 * capped (`maxRooms`, `roomCapacity`, `maxConnections`).
 */
import { NodeSocketServer } from "@effect/platform-node"
import { Socket } from "@effect/platform"
import { Cause, Duration, Effect, Either, Schedule } from "effect"
import type { Scope } from "effect"
import { randomUUID } from "node:crypto"
import type { WebSocket as WsSocket } from "ws"
import { WeaveFailed } from "../../../../services/seam/SeamErrors.js"
import { decodeMessage, PROTOCOL_VERSION } from "../Protocol.js"
import type { Hello } from "../Protocol.js"
import { RejectCode } from "../RejectCode.js"
import type {
  HostCounters,
  Principal,
  ResolvedHostOptions,
  RoomStats,
  WebSocketHostOptions
} from "./WebSocketHostOptions.js"
import type { Connection, HostLink } from "./WebSocketHostRooms.js"
import { HostRooms } from "./WebSocketHostRooms.js"

export * from "./WebSocketHostOptions.js"

/** A running host. It stops when the scope it was made in closes (or on `close`). */
export interface WebSocketHost {
  /** The TCP port it listens on (the real one when `port: 0` was asked). */
  readonly port: number
  /** `ws://host:port/kuilt`, what clients put in their advertisement. */
  readonly url: string
  readonly serverPeerId: string
  /** The payload budget members get (`maxFrameBytes - RELAY_OVERHEAD_BYTES`). */
  readonly maxPayloadBytes: number
  /** The rooms and their members right now. */
  readonly rooms: Effect.Effect<ReadonlyArray<RoomStats>>
  /** Live counters (updated in place). */
  readonly counters: Readonly<HostCounters>
  /**
   * Destroys a member's connection without a close handshake, as a network failure would; the
   * member keeps its slot for the reconnect window. `false` when it has no live connection. For
   * tests and operators (e.g. to force a client to resume).
   */
  readonly dropLink: (room: string, peerId: string) => Effect.Effect<boolean>
  /** Closes every connection with `HostClosing` (the listener stops with the scope). */
  readonly close: Effect.Effect<void>
}

const millis = (d: Duration.DurationInput | undefined, fallback: number): number =>
  d === undefined ? fallback : Duration.toMillis(Duration.decode(d))

const resolve = (o: WebSocketHostOptions): ResolvedHostOptions => ({
  port: o.port ?? 0,
  host: o.host ?? "127.0.0.1",
  serverPeerId: o.serverPeerId ?? randomUUID(),
  maxFrameBytes: o.maxFrameBytes ?? 1024 * 1024,
  maxHelloBytes: o.maxHelloBytes ?? 8 * 1024,
  maxOutboundBytesPerConnection: o.maxOutboundBytesPerConnection ?? 4 * 1024 * 1024,
  roomCapacity: o.roomCapacity ?? 64,
  maxRooms: o.maxRooms ?? 1024,
  maxConnections: o.maxConnections ?? 1024,
  handshakeTimeoutMs: millis(o.handshakeTimeout, 5_000),
  reconnectWindowMs: millis(o.reconnectWindow, 10_000),
  heartbeatIntervalMs: millis(o.heartbeatInterval, 5_000),
  maxBadFrames: o.maxBadFrames ?? 100,
  allowedOrigins: o.allowedOrigins,
  authenticate: o.authenticate
})

const newCounters = (): HostCounters => ({
  connectionsOpened: 0,
  admitted: 0,
  resumed: 0,
  rejected: {},
  originRefused: 0,
  relayed: 0,
  broadcasts: 0,
  droppedNoPeer: 0,
  droppedOverBudget: 0,
  droppedBadFrames: 0,
  slowConsumers: 0,
  heartbeatTimeouts: 0,
  windowsExpired: 0
})

/**
 * Starts a host in the current scope. Fails with `WeaveFailed` when it cannot listen (port in use,
 * bad address) or when an option is out of range.
 */
export const make = (options: WebSocketHostOptions = {}): Effect.Effect<WebSocketHost, WeaveFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const o = resolve(options)
    const invalid = validate(o)
    if (invalid !== undefined) return yield* new WeaveFailed({ reason: invalid })
    const counters = newCounters()
    const rooms = new HostRooms(o, counters)
    const clock = yield* Effect.clock
    rooms.sweep(clock.unsafeCurrentTimeMillis())
    const allowed = o.allowedOrigins === undefined ? undefined : new Set(o.allowedOrigins)

    const server = yield* NodeSocketServer.makeWebSocket({
      host: o.host,
      port: o.port,
      maxPayload: o.maxFrameBytes,
      perMessageDeflate: false,
      verifyClient: (info, done) => {
        const origin = info.req.headers.origin
        if (allowed === undefined || origin === undefined || allowed.has(origin)) return done(true)
        counters.originRefused++
        done(false, 403, "origin not allowed")
      }
    }).pipe(Effect.mapError((e) => new WeaveFailed({ reason: `cannot listen on ${o.host}:${o.port}: ${String(e.cause)}` })))
    const port = server.address._tag === "TcpAddress" ? server.address.port : o.port

    const handle = (socket: Socket.Socket) =>
      Effect.gen(function*() {
        const ws = (yield* Socket.WebSocket) as unknown as WsSocket
        const req = yield* NodeSocketServer.IncomingMessage
        const link: HostLink = {
          send: (bytes) => ws.send(bytes),
          bufferedAmount: () => ws.bufferedAmount,
          close: (code, reason) => ws.close(code, reason),
          terminate: () => ws.terminate(),
          origin: req.headers.origin
        }
        const conn = rooms.open(link, rooms.nowMs)
        if (conn === undefined) return
        yield* socket.run((data) => onMessage(rooms, conn, data)).pipe(
          Effect.catchAllCause(() => Effect.void),
          Effect.ensuring(Effect.sync(() => rooms.onClose(conn)))
        )
      })
    // The server provides the raw `WebSocket` and the upgrade request to each handler itself; its
    // `run` signature just forwards the handler's requirements, so they are erased here.
    yield* Effect.forkScoped(server.run(handle as (socket: Socket.Socket) => Effect.Effect<void>))
    // `run` registers its connection listener when the fork first runs; let it run before anyone
    // can learn the port (a connection with no listener would be left hanging).
    yield* Effect.yieldNow()

    // One sweep fiber for every timer of the host (handshakes, pings, heartbeats, windows).
    const tick = Math.max(5, Math.min(o.heartbeatIntervalMs, o.handshakeTimeoutMs, o.reconnectWindowMs || Infinity) / 4)
    yield* Effect.forkScoped(
      Effect.repeat(Effect.sync(() => rooms.sweep(clock.unsafeCurrentTimeMillis())), Schedule.spaced(Duration.millis(tick)))
    )
    const close = Effect.sync(() => rooms.closeAll())
    yield* Effect.addFinalizer(() => close)
    const host: WebSocketHost = {
      port,
      url: `ws://${o.host.includes(":") ? `[${o.host}]` : o.host}:${port}/kuilt`,
      serverPeerId: o.serverPeerId,
      maxPayloadBytes: rooms.budget,
      rooms: Effect.sync(() => rooms.stats()),
      counters,
      dropLink: (room, peerId) => Effect.sync(() => rooms.dropLink(room, peerId)),
      close
    }
    return host
  })

const validate = (o: ResolvedHostOptions): string | undefined => {
  const positive: ReadonlyArray<[string, number]> = [
    ["maxFrameBytes", o.maxFrameBytes],
    ["maxHelloBytes", o.maxHelloBytes],
    ["maxOutboundBytesPerConnection", o.maxOutboundBytesPerConnection],
    ["roomCapacity", o.roomCapacity],
    ["maxRooms", o.maxRooms],
    ["maxConnections", o.maxConnections],
    ["handshakeTimeout", o.handshakeTimeoutMs],
    ["heartbeatInterval", o.heartbeatIntervalMs]
  ]
  for (const [name, value] of positive) if (!(value > 0)) return `${name} must be positive, got ${value}`
  if (o.maxFrameBytes < 2048) return `maxFrameBytes must be at least 2048, got ${o.maxFrameBytes}`
  if (!(o.reconnectWindowMs >= 0)) return `reconnectWindow must not be negative`
  if (o.roomCapacity > 4096) return `roomCapacity must be at most 4096 (the roster frame's limit)`
  return undefined
}

/**
 * One received message. Synchronous except for the authentication hook, so frames are handled in
 * arrival order (a handler that returned an Effect per frame would be forked and reordered).
 */
const onMessage = (rooms: HostRooms, conn: Connection, data: Uint8Array): Effect.Effect<void> | void => {
  conn.heard = true
  switch (conn.phase) {
    case "member": {
      const decoded = decodeMessage(data)
      if (Either.isLeft(decoded)) return rooms.badFrame(conn)
      return rooms.onMemberMessage(conn, decoded.right)
    }
    case "handshake":
      return onHello(rooms, conn, data)
    case "authenticating":
      // The client must wait for its Welcome; anything sent before it is not relayed.
      return rooms.badFrame(conn)
    case "closed":
      return
  }
}

const onHello = (rooms: HostRooms, conn: Connection, data: Uint8Array): Effect.Effect<void> | void => {
  if (data.byteLength > rooms.options.maxHelloBytes) {
    return rooms.reject(conn, RejectCode.MalformedHello, `hello of ${data.byteLength} bytes exceeds ${rooms.options.maxHelloBytes}`)
  }
  const decoded = decodeMessage(data)
  if (Either.isLeft(decoded) || decoded.right._tag !== "Hello") {
    const why = Either.isLeft(decoded) ? decoded.left.message : `expected Hello, got ${decoded.right._tag}`
    return rooms.reject(conn, RejectCode.MalformedHello, why)
  }
  const hello = decoded.right
  if (hello.protocolVersion !== PROTOCOL_VERSION) {
    return rooms.reject(conn, RejectCode.ProtocolMismatch, `protocol ${hello.protocolVersion}; this host speaks ${PROTOCOL_VERSION}`)
  }
  const authenticate = rooms.options.authenticate
  if (authenticate === undefined) return rooms.admit(conn, hello, undefined)
  conn.phase = "authenticating"
  return authenticateThenAdmit(rooms, conn, hello, authenticate)
}

const authenticateThenAdmit = (
  rooms: HostRooms,
  conn: Connection,
  hello: Hello,
  authenticate: NonNullable<WebSocketHostOptions["authenticate"]>
): Effect.Effect<void> =>
  Effect.suspend(() =>
    authenticate({
      room: hello.room,
      displayName: hello.displayName,
      sessionId: hello.sessionId,
      peerId: hello.peerId,
      credentials: hello.credentials,
      origin: conn.link.origin,
      resuming: hello.resumeToken !== undefined
    })
  ).pipe(
    Effect.timeout(Duration.millis(rooms.options.handshakeTimeoutMs)),
    Effect.matchCause({
      onSuccess: (principal: Principal) => {
        if (conn.phase !== "authenticating") return
        conn.phase = "handshake"
        rooms.admit(conn, hello, principal)
      },
      onFailure: (cause) => {
        const failure = Cause.failureOption(cause)
        const reason = failure._tag === "Some" && failure.value._tag === "AuthRejected"
          ? failure.value.reason
          : "authentication failed"
        rooms.reject(conn, RejectCode.AuthRefused, reason)
      }
    })
  )

/** The host constructor, as a namespace (`WebSocketHost.make`). */
export const WebSocketHost = { make }
