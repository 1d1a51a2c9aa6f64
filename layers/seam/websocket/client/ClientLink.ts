/**
 * One WebSocket connection of a client to a host: open it through `@effect/platform`'s `Socket`
 * (any `WebSocketConstructor`: Node's, a browser's), send the `Hello` as soon as it opens, and wait
 * for the `Welcome` or a refusal.
 *
 * Pitfalls of `@effect/platform`'s Socket handled here: writes wait until `run` has opened the
 * socket, so `run` is forked before anything is written
 * (the hello goes out from `onOpen`); the message handler is synchronous, so frames are handled in
 * arrival order; sends after the handshake go straight to the WebSocket (`send` is synchronous)
 * and are skipped once it is no longer open, so a send can never hang on a dead socket.
 */
import { Socket } from "@effect/platform"
import { Deferred, Duration, Effect, Either, Exit, Fiber, Scope } from "effect"
import { decodeMessage, encodeMessage } from "../Protocol.js"
import type { Hello, Welcome, WireMessage } from "../Protocol.js"
import { HostUnreachable, JoinRefused } from "../WebSocketErrors.js"

/** WebSocket readyState OPEN (the same in browsers and `ws`). */
const OPEN = 1

/** An admitted connection. */
export interface ClientLink {
  /** Sends one frame if the socket is open; `false` when it is not (the frame is dropped). */
  readonly send: (bytes: Uint8Array) => boolean
  /** Bytes queued by the WebSocket and not yet sent. */
  readonly bufferedAmount: () => number
  /** Closes the socket with `code` (1000 or 4000–4999). */
  readonly close: (code: number, reason: string) => void
  /** Completes when the socket is down: the close code, or `undefined` for an error without one. */
  readonly down: Effect.Effect<number | undefined>
  /** Frees the connection's resources (closing the socket if it is still open). */
  readonly release: Effect.Effect<void>
}

export interface ConnectOptions {
  readonly url: string
  readonly hello: Hello
  /** Time for the socket to open and the host to answer the hello. */
  readonly timeout: Duration.Duration
  /**
   * Called synchronously with the `Welcome` and the link, before any later frame is handed to
   * `onFrame`; return a refusal to reject it (e.g. another host than the one advertised).
   */
  readonly onWelcome: (welcome: Welcome, link: ClientLink) => HostUnreachable | undefined
  /** Every frame after the `Welcome`, in arrival order, synchronously. */
  readonly onFrame: (message: WireMessage) => void
  /** Frames after the `Welcome` that do not decode (dropped). */
  readonly onBadFrame: () => void
}

const closeCodeOf = (exit: Exit.Exit<void, Socket.SocketError>): number | undefined => {
  if (Exit.isSuccess(exit)) return 1000
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  return error !== undefined && error.reason === "Close" && "code" in error ? error.code : undefined
}

/**
 * Connects and waits for admission. Fails with `JoinRefused` (a `Reject`, or an application close
 * code before the welcome) or `HostUnreachable` (cannot connect, timed out, welcome refused).
 */
export const connect = (
  options: ConnectOptions
): Effect.Effect<{ readonly link: ClientLink; readonly welcome: Welcome }, JoinRefused | HostUnreachable, Socket.WebSocketConstructor> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    let ws: globalThis.WebSocket | undefined
    const acquire = Effect.acquireRelease(
      Effect.map(Socket.WebSocketConstructor, (make) => (ws = make(options.url))),
      (socket) => Effect.sync(() => socket.close(1000))
    )
    const socket = yield* Socket.fromWebSocket(acquire, {
      closeCodeIsError: () => true,
      openTimeout: Duration.toMillis(options.timeout)
    })
    const link: ClientLink = {
      send: (bytes) => {
        if (ws === undefined || ws.readyState !== OPEN) return false
        ws.send(bytes)
        return true
      },
      bufferedAmount: () => ws?.bufferedAmount ?? 0,
      close: (code, reason) => {
        if (ws !== undefined && ws.readyState <= OPEN) ws.close(code, reason)
      },
      down: Effect.suspend(() => Effect.map(Fiber.await(runFiber!), (exit) => Exit.isSuccess(exit) ? closeCodeOf(exit.value) : undefined)),
      release: Scope.close(scope, Exit.void)
    }
    let runFiber: Fiber.RuntimeFiber<Exit.Exit<void, Socket.SocketError>> | undefined
    const admitted = yield* Deferred.make<Welcome, JoinRefused | HostUnreachable>()
    let welcomed = false
    const handler = (data: Uint8Array): void => {
      const decoded = decodeMessage(data)
      if (welcomed) {
        if (Either.isLeft(decoded)) options.onBadFrame()
        else options.onFrame(decoded.right)
        return
      }
      if (Either.isLeft(decoded)) {
        Deferred.unsafeDone(admitted, Exit.fail(new HostUnreachable({ reason: `undecodable handshake answer: ${decoded.left.message}` })))
        return
      }
      const m = decoded.right
      switch (m._tag) {
        case "Welcome": {
          const refused = options.onWelcome(m, link)
          if (refused !== undefined) {
            // The host admitted us: say Bye so it frees the slot now, not after the window.
            link.send(encodeMessage({ _tag: "Bye" }))
            Deferred.unsafeDone(admitted, Exit.fail(refused))
            return
          }
          welcomed = true
          Deferred.unsafeDone(admitted, Exit.succeed(m))
          return
        }
        case "Reject":
          Deferred.unsafeDone(admitted, Exit.fail(new JoinRefused({ code: m.code, reason: m.reason })))
          return
        default:
          // Pings may precede the welcome; nothing else is meaningful yet.
          return
      }
    }
    runFiber = yield* socket.run(handler, { onOpen: Effect.sync(() => ws?.send(encodeMessage(options.hello))) }).pipe(
      Effect.exit,
      Effect.forkIn(scope)
    )
    const closedEarly = Effect.flatMap(Fiber.join(runFiber), (exit: Exit.Exit<void, Socket.SocketError>): Effect.Effect<never, JoinRefused | HostUnreachable> => {
      const code = closeCodeOf(exit)
      return code !== undefined && code >= 4000 && code < 5000
        ? Effect.fail(new JoinRefused({ code, reason: "closed by the host before the welcome" }))
        : Effect.fail(new HostUnreachable({ reason: code === undefined ? "cannot connect" : `closed (${code}) before the welcome` }))
    })
    const welcome = yield* Deferred.await(admitted).pipe(
      Effect.raceFirst(closedEarly),
      Effect.timeoutFail({
        duration: options.timeout,
        onTimeout: () => new HostUnreachable({ reason: `no welcome within ${Duration.format(options.timeout)}` })
      }),
      // Failed, timed out or interrupted (the joiner's scope closed): nothing may stay open.
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, Exit.void))
    )
    return { link, welcome }
  })
