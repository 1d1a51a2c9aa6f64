/**
 * The host's message handler for one connection: rate limits, the hello (version, identity check,
 * admission) and, once admitted, routing. Synchronous except for the identity check and the end of
 * a rate-limit pause, so frames are handled in arrival order (a handler that returned an Effect per
 * frame would be forked and reordered).
 */
import { Cause, Duration, Effect, Either } from "effect"
import { decodeMessage, PROTOCOL_VERSION } from "../Protocol.js"
import type { Hello } from "../Protocol.js"
import { RejectCode } from "../RejectCode.js"
import type { Authenticator } from "./HostIdentity.js"
import type { Connection } from "./HostMembers.js"
import { route } from "./HostRouting.js"
import type { Turns } from "./Turns.js"
import type { HostRooms } from "./WebSocketHostRooms.js"
import type { Principal } from "./WebSocketHostOptions.js"

/**
 * Handles one received message; an Effect it returns is run by the socket (identity, pauses, the
 * backlog). A connection gets `maxFramesPerTurn` frames per loop turn: past that its reading is
 * paused and the frames already read wait in its backlog for the next turns, in order.
 */
export const onMessage = (
  rooms: HostRooms,
  authenticate: Authenticator,
  turns: Turns,
  conn: Connection,
  data: Uint8Array
): Effect.Effect<void> | void => {
  conn.heard = true
  if (conn.backlog !== undefined) {
    conn.backlog.push(data)
    return
  }
  if (!rooms.overQuantum(conn, turns.current())) return handleFrame(rooms, authenticate, conn, data)
  conn.backlog = [data]
  rooms.updateReading(conn)
  return drainBacklog(rooms, authenticate, conn)
}

/** Yields to the event loop (its I/O and timers) once. */
const nextTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

const drainBacklog = (rooms: HostRooms, authenticate: Authenticator, conn: Connection): Effect.Effect<void> =>
  Effect.gen(function*() {
    const backlog = conn.backlog!
    const quantum = rooms.options.maxFramesPerTurn
    while (backlog.length > 0 && conn.phase !== "closed") {
      yield* nextTurn
      const batch = backlog.splice(0, quantum)
      rooms.counters.deferredFrames += batch.length
      for (const data of batch) {
        const more = handleFrame(rooms, authenticate, conn, data)
        // A pause's end or an identity check: run beside the drain, as the socket would have.
        if (more !== undefined) yield* Effect.forkDaemon(more)
      }
    }
    conn.backlog = undefined
    rooms.updateReading(conn)
  })

/** One frame: rate limits, then the handshake or the member's routing. */
const handleFrame = (
  rooms: HostRooms,
  authenticate: Authenticator,
  conn: Connection,
  data: Uint8Array
): Effect.Effect<void> | void => {
  const wait = rooms.throttle(conn, data.byteLength, rooms.now())
  const handled = dispatch(rooms, authenticate, conn, data)
  if (wait === 0) return handled
  const unpause = Effect.sleep(Duration.millis(wait)).pipe(Effect.andThen(Effect.sync(() => rooms.unpause(conn))))
  return handled === undefined ? unpause : Effect.all([handled, unpause], { concurrency: 2, discard: true })
}

const dispatch = (rooms: HostRooms, authenticate: Authenticator, conn: Connection, data: Uint8Array): Effect.Effect<void> | void => {
  switch (conn.phase) {
    case "member": {
      const decoded = decodeMessage(data)
      if (Either.isLeft(decoded)) return rooms.badFrame(conn)
      return route(rooms, conn, decoded.right)
    }
    case "handshake":
      return onHello(rooms, authenticate, conn, data)
    case "authenticating":
      // The client must wait for its Welcome; anything sent before it is not relayed.
      return rooms.badFrame(conn)
    case "closed":
      return
  }
}

const onHello = (rooms: HostRooms, authenticate: Authenticator, conn: Connection, data: Uint8Array): Effect.Effect<void> | void => {
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
  if (authenticate === undefined) return rooms.admit(conn, hello, undefined)
  conn.phase = "authenticating"
  return authenticateThenAdmit(rooms, conn, hello, authenticate)
}

const authenticateThenAdmit = (
  rooms: HostRooms,
  conn: Connection,
  hello: Hello,
  authenticate: NonNullable<Authenticator>
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
