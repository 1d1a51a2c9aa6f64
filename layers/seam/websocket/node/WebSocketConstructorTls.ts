/**
 * A Node `WebSocketConstructor` for `wss://` hosts whose certificate is not signed by a public CA
 * (a private CA, or a self-signed certificate in development). For publicly trusted certificates
 * the default `WebSocketConstructorNode` is enough.
 */
import { Socket } from "@effect/platform"
import { Layer } from "effect"
import { WebSocket } from "ws"

/** Trust options of the Node client. */
export interface ClientTlsOptions {
  /** PEM certificate(s) of the CA (or the self-signed certificate) to trust. */
  readonly ca: string | Uint8Array | ReadonlyArray<string | Uint8Array>
}

const pem = (x: string | Uint8Array): string | Buffer => (typeof x === "string" ? x : Buffer.from(x))

/** Provides `Socket.WebSocketConstructor` from `ws`, trusting `options.ca`. */
export const layerWebSocketConstructorTls = (options: ClientTlsOptions): Layer.Layer<Socket.WebSocketConstructor> => {
  const ca = Array.isArray(options.ca) ? (options.ca as ReadonlyArray<string | Uint8Array>).map(pem) : [pem(options.ca as string | Uint8Array)]
  return Layer.succeed(
    Socket.WebSocketConstructor,
    (url, protocols) => new WebSocket(url, protocols, { ca }) as unknown as globalThis.WebSocket
  )
}
