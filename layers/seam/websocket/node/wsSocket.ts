/**
 * Two reaches into the `ws` library that `@effect/platform`'s `HttpServer` does not offer.
 *
 * The platform upgrades requests with a `ws` server it creates itself, with `ws`'s defaults — among
 * them a 100 MiB message limit, which would let any client make the host buffer 100 MiB per
 * connection. The relay needs the raw `ws` socket (synchronous sends, `bufferedAmount`, `pause`,
 * `terminate`) and its own limit. `ws` links the network socket to its `WebSocket` under a symbol
 * described `"websocket"`, and its receiver reads `_maxPayload` at every frame header, so lowering
 * that right after the upgrade enforces `maxFrameBytes` with `ws`'s own 1009 close. Both are
 * checked by the tests (`test/layers/seam/websocket/admission.test.ts`: oversized first frame and
 * member frame are closed with 1009); an unsupported `ws` fails loudly instead of silently.
 */
import type { Socket as NetSocket } from "node:net"
import type { WebSocket as WsSocket } from "ws"

/** The `ws` WebSocket bound to an upgraded network socket, if `ws` bound one. */
export const webSocketOfSocket = (socket: NetSocket): WsSocket | undefined => {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === "websocket")
  const ws = key === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[key]
  return typeof ws === "object" && ws !== null && typeof (ws as WsSocket).send === "function" ? ws as WsSocket : undefined
}

/** Caps the size of messages `ws` will accept on this socket (a larger one closes it with 1009). */
export const limitIncomingFrames = (ws: WsSocket, maxBytes: number): void => {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver
  if (receiver === undefined || typeof receiver._maxPayload !== "number") {
    throw new Error("kuilt relay: this ws version has no per-socket message limit to set")
  }
  receiver._maxPayload = maxBytes
}
