/**
 * `wss://`: a host with a key and certificate (generated for the test) serves Node clients that
 * trust the certificate; a client that does not trust it, or speaks plain `ws://`, cannot join.
 */
import { describe, expect, it } from "@effect/vitest"
import { NodeSocket } from "@effect/platform-node"
import { Duration, Effect, Stream } from "effect"
import { WebSocketLoom } from "../../../../layers/seam/websocket/client/WebSocketLoom.js"
import * as WebSocketHost from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import { HostIdentity } from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import { layerWebSocketConstructorTls } from "./trustingConstructor.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import { eventually, startHost } from "./fixture.js"
import { selfSignedCertificate } from "./tlsCertificate.js"

describe("WebSocket host over TLS", () => {
  it.scopedLive("Node clients that trust the certificate exchange frames over wss; others cannot join", () =>
    Effect.gen(function*() {
      const { key, cert } = yield* selfSignedCertificate.pipe(Effect.orDie)
      const host = yield* startHost({ tls: { key, cert } })
      expect(host.url.startsWith("wss://127.0.0.1:")).toBe(true)
      const join = (peerId: string) =>
        WebSocketLoom.join({ url: host.url, room: "tls", peerId, displayName: peerId, connectTimeout: Duration.seconds(5) }).pipe(
          Effect.provide(layerWebSocketConstructorTls({ ca: cert }))
        )
      const a = yield* join("a")
      const b = yield* join("b")
      yield* eventually("a sees b", Effect.map(a.roster.get, (p) => p.has("b" as PeerId)))
      const got = yield* Effect.fork(Stream.runHead(b.seam.incoming))
      yield* a.seam.sendTo("b" as PeerId, new TextEncoder().encode("over tls"))
      const frame = yield* got.pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie)
      expect(frame._tag === "Some" ? frame.value.decodeToString() : undefined).toBe("over tls")
      const untrusted = yield* Effect.flip(
        WebSocketLoom.join({ url: host.url, room: "tls", displayName: "x", connectTimeout: Duration.seconds(5) }).pipe(
          Effect.provide(NodeSocket.layerWebSocketConstructor)
        )
      )
      expect(untrusted._tag).toBe("HostUnreachable")
      const plain = yield* Effect.flip(
        WebSocketLoom.join({ url: host.url.replace("wss:", "ws:"), room: "tls", displayName: "x", connectTimeout: Duration.seconds(5) }).pipe(
          Effect.provide(NodeSocket.layerWebSocketConstructor)
        )
      )
      expect(plain._tag).toBe("HostUnreachable")
      expect((yield* host.rooms)[0]!.members.map((m) => m.peerId)).toEqual(["a", "b"])
    }))

  it.scopedLive("bad TLS material fails the host's start with WeaveFailed", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WebSocketHost.make({ identity: HostIdentity.open(), tls: { key: "not a key", cert: "not a cert" } }))
      expect(error._tag).toBe("WeaveFailed")
      expect(error.reason).toContain("TLS")
    }))
})
