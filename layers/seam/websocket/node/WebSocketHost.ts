/**
 * `WebSocketHost`: a Node relay host for kuilt rooms (wire protocol in `../Protocol.ts`): the `WebSocketRelay`
 * app on an HTTP (or, with `tls`, HTTPS) server of its own, at `path` (default `/kuilt`). To serve
 * the relay beside other routes on one port, mount `WebSocketRelay.make(...).app` on your own
 * `HttpServer` instead.
 *
 * A client connects, sends a `Hello` (room, display name, session id, protocol version, optional
 * requested peer id, credentials and resume token) and gets a `Welcome` (its peer id, a resume
 * token, the room's roster, the payload budget) or a `Reject` with a `RejectCode` (also the close
 * code). Members then send `RelayTo(peer)` / `Broadcast` frames; the host forwards them as
 * `RelayFrom(sender)` with the sender taken from the connection, never from the frame.
 *
 * Limits and policies (defaults in `WebSocketHostOptions`): identity (`HostIdentity`); frames over
 * `maxFrameBytes` close the connection with 1009; the first frame must be a well-formed `Hello` of
 * at most `maxHelloBytes` within `handshakeTimeout`; per-connection message and byte rates
 * (`rateLimit`, enforced by pausing reads); connections per address; a connection whose unsent
 * bytes would exceed `maxOutboundBytesPerConnection` is ended (`SlowConsumer`); a connection silent
 * for three heartbeat intervals is closed (`HeartbeatTimeout`); a dropped member keeps its slot for
 * `reconnectWindow`; rooms, members per room and connections are capped.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Context, Effect, Layer, Scope } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"
import { WeaveFailed } from "../../../../services/seam/SeamErrors.js"
import type { WebSocketHostOptions } from "./WebSocketHostOptions.js"
import type { WebSocketRelayShape } from "./WebSocketRelay.js"
import { make as makeRelay } from "./WebSocketRelay.js"

export * from "./WebSocketHostOptions.js"
export { HostIdentity } from "./HostIdentity.js"

/** A running host. It stops when the scope it was made in closes (or on `close`). */
export interface WebSocketHostShape extends Omit<WebSocketRelayShape, "app"> {
  /** The TCP port it listens on (the real one when `port: 0` was asked). */
  readonly port: number
  /** `ws://host:port/kuilt` (`wss://` with `tls`), what clients put in their advertisement. */
  readonly url: string
}

/**
 * Starts a host in the current scope. Fails with `WeaveFailed` when it cannot listen (port in use,
 * bad address, bad TLS material), when an option is out of range or the identity's secret is
 * unusable.
 */
export const make = (options: WebSocketHostOptions = {}): Effect.Effect<WebSocketHostShape, WeaveFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const relay = yield* makeRelay(options)
    const host = options.host ?? "127.0.0.1"
    const path = options.path ?? "/kuilt"
    const tls = options.tls
    const nodeServer = yield* Effect.try({
      try: () => (tls === undefined ? Http.createServer() : Https.createServer({ key: toPem(tls.key), cert: toPem(tls.cert) })),
      catch: (e) => new WeaveFailed({ reason: `invalid TLS key or certificate: ${String(e)}` })
    })
    // The server lives in a scope of its own, closed by our finalizer after the relay: the
    // platform closes its upgrade `ws` server there, and that waits for every WebSocket to close.
    const serverScope = yield* Scope.make()
    yield* Effect.addFinalizer((exit) =>
      // Stop accepting first (a client reconnecting during the shutdown must not hold the server
      // open), tell members `HostClosing`, then drop any plain HTTP connection left.
      Effect.sync(() => nodeServer.close()).pipe(
        Effect.zipRight(relay.close),
        Effect.zipRight(Effect.sync(() => nodeServer.closeAllConnections())),
        Effect.zipRight(Scope.close(serverScope, exit))
      )
    )
    // An HTTPS server emits the same request and upgrade events as an HTTP one.
    const server = yield* NodeHttpServer.make(() => nodeServer as Http.Server, { port: options.port ?? 0, host }).pipe(
      Scope.extend(serverScope),
      Effect.mapError((e) => new WeaveFailed({ reason: `cannot listen on ${host}:${options.port ?? 0}: ${String(e.cause)}` }))
    )
    const routed = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      pathOf(request.url) === path ? relay.app : Effect.succeed(HttpServerResponse.empty({ status: 404 })))
    yield* server.serve(routed).pipe(Scope.extend(serverScope))
    const port = server.address._tag === "TcpAddress" ? server.address.port : options.port ?? 0
    const { app: _app, ...rest } = relay
    return {
      ...rest,
      port,
      url: `${tls === undefined ? "ws" : "wss"}://${host.includes(":") ? `[${host}]` : host}:${port}${path}`
    }
  })

/** A host as a Layer, bound to the layer's scope. */
export const layer = (options: WebSocketHostOptions = {}): Layer.Layer<WebSocketHost, WeaveFailed> =>
  Layer.scoped(WebSocketHost, make(options))

const toPem = (x: string | Uint8Array): string | Buffer => (typeof x === "string" ? x : Buffer.from(x))

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

/**
 * The standalone host as a service (its interface is `WebSocketHostShape`), with its constructors:
 * `WebSocketHost.make(options)` in the caller's scope, `WebSocketHost.layer(options)`.
 */
export class WebSocketHost extends Context.Tag("kuilt/WebSocketHost")<WebSocketHost, WebSocketHostShape>() {
  static readonly make = make
  static readonly layer = layer
}
