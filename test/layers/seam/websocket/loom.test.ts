/**
 * `WebSocketLoom` as a `Loom`: code written against the `Loom` service runs over a relay host by
 * providing `WebSocketLoom.layer`, exactly as it runs over `InMemoryLoom.layer`.
 */
import { describe, expect, it } from "@effect/vitest"
import { NodeSocket } from "@effect/platform-node"
import { Duration, Effect, Layer, Stream } from "effect"
import { InMemoryLoom } from "../../../../layers/seam/inmemory/InMemoryLoom.js"
import { WebSocketLoom } from "../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { Loom } from "../../../../services/seam/Loom.js"
import { eventually, startHost } from "./fixture.js"

/** A program that only knows `Loom`: a host and a joiner exchange one frame. */
const exchange = Effect.gen(function*() {
  const loom = yield* Loom
  const host = yield* loom.host({ sessionName: "chat", peerKey: "host" })
  const guest = yield* loom.join({ sessionName: "chat", peerKey: "guest" })
  yield* eventually("the host sees the guest", Effect.map(host.peers.get, (p) => p.has(guest.selfId)))
  const got = yield* Effect.fork(Stream.runHead(host.incoming))
  yield* guest.sendTo(host.selfId, new TextEncoder().encode("hi"))
  const frame = yield* got.pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie)
  return frame._tag === "Some" ? `${frame.value.sender}: ${frame.value.decodeToString()}` : "nothing"
})

describe("WebSocketLoom as a Loom", () => {
  it.scopedLive("the same Loom program runs over the in-memory fabric and over a WebSocket host", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const viaWebSocket = yield* exchange.pipe(
        Effect.provide(WebSocketLoom.layer({ url: host.url }).pipe(Layer.provide(NodeSocket.layerWebSocketConstructor)))
      )
      const inMemory = yield* exchange.pipe(Effect.provide(InMemoryLoom.layer()))
      expect(viaWebSocket).toBe("guest: hi")
      expect(inMemory).toBe("guest: hi")
    }))

  it.scopedLive("host refuses a session that is already live; roomKey and host refusals are WeaveFailed", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const loom = yield* WebSocketLoom.make({ url: host.url }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))
      yield* loom.join({ sessionName: "s", peerKey: "first" })
      const second = yield* Effect.flip(loom.host({ sessionName: "s", peerKey: "second" }))
      expect(second.reason).toContain("already live")
      // The refused host said Bye: only the first member is left.
      yield* eventually("the refused host left", Effect.map(host.rooms, (r) => r[0]?.members.length === 1))
      const keyed = yield* Effect.flip(loom.join({ sessionName: "s", roomKey: "k" }))
      expect(keyed._tag).toBe("WeaveFailed")
      const taken = yield* Effect.flip(loom.join({ sessionName: "s", peerKey: "first" }))
      expect(taken.reason).toContain("PeerIdInUse")
      const room = yield* loom.joinRoom("s", { peerId: "third" })
      expect((yield* room.status.get)._tag).toBe("Connected")
    }))
})
