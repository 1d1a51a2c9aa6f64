/**
 * A hand-driven WebSocket client for adversarial tests: it speaks whatever bytes the test wants
 * (garbage, forged frames, oversized hellos) and records what the host answers. Built on `ws`
 * directly so nothing in kuilt's client can "fix" the misbehaviour under test.
 */
import { Duration, Effect, Either } from "effect"
import { WaitTimedOut } from "./fixture.js"
import type { Scope } from "effect"
import { WebSocket } from "ws"
import { decodeMessage, encodeMessage, PROTOCOL_VERSION } from "../../../../layers/seam/websocket/Protocol.js"
import type { Hello, Welcome, WireMessage } from "../../../../layers/seam/websocket/Protocol.js"

export interface RawClient {
  readonly ws: WebSocket
  /** Every decoded frame received, in order (undecodable ones are recorded as `undefined`). */
  readonly received: Array<WireMessage | undefined>
  readonly send: (bytes: Uint8Array) => void
  /** The close code and reason, once closed. */
  readonly closed: () => { readonly code: number; readonly reason: string } | undefined
  /** Set when the upgrade was refused with an HTTP status. */
  readonly httpStatus: () => number | undefined
}

/**
 * Opens a raw client (closed with the scope). Fails when the socket never opens within 3 s. It
 * answers the host's pings unless `mute` (a half-open link, as the host sees it).
 */
export const rawConnect = (
  url: string,
  headers: Record<string, string> = {},
  options: { readonly mute?: boolean } = {}
): Effect.Effect<RawClient, WaitTimedOut, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<RawClient>((resume) => {
      const ws = new WebSocket(url, { headers })
      const received: Array<WireMessage | undefined> = []
      let closed: { code: number; reason: string } | undefined
      let status: number | undefined
      const client: RawClient = {
        ws,
        received,
        send: (bytes) => ws.send(bytes),
        closed: () => closed,
        httpStatus: () => status
      }
      ws.on("message", (data: Buffer) => {
        const decoded = decodeMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        if (Either.isRight(decoded) && decoded.right._tag === "Ping") {
          if (options.mute !== true) ws.send(encodeMessage({ _tag: "Pong", nonce: decoded.right.nonce }))
          return
        }
        received.push(Either.isRight(decoded) ? decoded.right : undefined)
      })
      ws.on("close", (code, reason) => {
        closed = { code, reason: reason.toString() }
      })
      ws.on("unexpected-response", (_req, res) => {
        status = res.statusCode
        closed = { code: 1006, reason: `http ${res.statusCode}` }
        resume(Effect.succeed(client))
      })
      ws.on("error", () => {
        if (closed === undefined) closed = { code: 1006, reason: "error" }
      })
      ws.on("open", () => resume(Effect.succeed(client)))
    }).pipe(Effect.timeoutFail({ duration: Duration.seconds(3), onTimeout: () => new WaitTimedOut({ what: "raw client did not open" }) })),
    (c) => Effect.sync(() => c.ws.terminate())
  )

export const helloFrame = (fields: Partial<Omit<Hello, "_tag">> = {}): Uint8Array =>
  encodeMessage({ _tag: "Hello", protocolVersion: PROTOCOL_VERSION, room: "r", displayName: "raw", sessionId: "", ...fields })

/** Waits (bounded) until `predicate` holds for the client. */
export const waitFor = (what: string, predicate: () => boolean, ms = 3_000): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < ms / 5; i++) {
      if (predicate()) return
      yield* Effect.sleep(Duration.millis(5))
    }
    return yield* Effect.dieMessage(`timed out after ${ms} ms waiting until ${what}`)
  })

/** Connects, says hello and waits for the welcome. */
export const rawJoin = (url: string, fields: Partial<Omit<Hello, "_tag">> = {}, options: { readonly mute?: boolean } = {}) =>
  Effect.gen(function*() {
    const c = yield* rawConnect(url, {}, options)
    c.send(helloFrame(fields))
    yield* waitFor("the raw client is welcomed", () => c.received.some((m) => m?._tag === "Welcome") || c.closed() !== undefined)
    const welcome = c.received.find((m): m is Welcome => m?._tag === "Welcome")
    if (welcome === undefined) return yield* Effect.dieMessage(`raw join refused: ${JSON.stringify(c.closed())}`)
    return { client: c, welcome }
  })

/** The Reject frame a client received, if any. */
export const rejectOf = (c: RawClient) => c.received.find((m) => m?._tag === "Reject")
