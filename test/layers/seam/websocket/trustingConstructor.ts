/**
 * A Node `WebSocketConstructor` (from `ws`) that trusts a given CA, for the tests' self-signed
 * `wss://` hosts. Applications do the same with their own `ws` (kuilt does not ship `ws` as a
 * runtime dependency), or start Node with `NODE_EXTRA_CA_CERTS=ca.pem`.
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
