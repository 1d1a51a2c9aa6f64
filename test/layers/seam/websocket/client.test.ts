/**
 * Client-loom behaviour: pinning the host, unreachable hosts, named channels over a room, and the
 * bound on frames queued for a collector that does not read.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, Stream } from "effect"
import { DeliveryPolicy } from "../../../../services/seam/DeliveryPolicy.js"
import { PeerId } from "../../../../services/seam/PeerId.js"
import { eventually, joinNode, startHost } from "./fixture.js"

describe("WebSocket client loom", () => {
  it.scopedLive("a welcome from another host than the advertised serverPeerId is refused", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ serverPeerId: "host-a" })
      const ok = yield* joinNode(host.url, { serverPeerId: "host-a" })
      expect(ok.serverPeerId).toBe("host-a")
      const error = yield* Effect.flip(joinNode(host.url, { serverPeerId: "host-b" }))
      expect(error._tag).toBe("HostUnreachable")
      // The refused connection said Bye: its slot is freed well before the 500 ms reconnect window.
      yield* eventually("only one member is left", Effect.map(host.rooms, (rooms) => rooms[0]!.members.length === 1), 300)
    }))

  it.scopedLive("joining a port where nothing listens fails with HostUnreachable", () =>
    Effect.gen(function*() {
      const host = yield* Effect.scoped(Effect.map(startHost(), (h) => h.url))
      const error = yield* Effect.flip(joinNode(host, { connectTimeout: Duration.seconds(2) }))
      expect(error._tag).toBe("HostUnreachable")
    }))

  it.scopedLive("named channels of two clients talk to each other and stay apart", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const a = yield* joinNode(host.url, { room: "ch", peerId: "a" })
      const b = yield* joinNode(host.url, { room: "ch", peerId: "b" })
      yield* eventually("a sees b", Effect.map(a.roster.get, (p) => p.has(PeerId("b"))))
      const chatA = yield* a.channel("chat")
      const chatB = yield* b.channel("chat")
      const gameB = yield* b.channel("game")
      const gotGame = yield* Effect.fork(Stream.runHead(gameB.incoming))
      const gotChat = yield* Effect.fork(Stream.runHead(chatB.incoming))
      yield* chatA.sendTo(PeerId("b"), new TextEncoder().encode("hi"))
      const chat = yield* gotChat.pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie)
      expect(chat._tag === "Some" ? [chat.value.sender, chat.value.decodeToString()] : undefined).toEqual(["a", "hi"])
      // The view's budget is the room's minus its header (1 + "chat").
      expect(Option.getOrThrow(chatA.maxPayloadBytes)).toBe(Option.getOrThrow(a.seam.maxPayloadBytes) - 5)
      expect(gotGame.unsafePoll()).toBeNull()
    }))

  it.scopedLive("a collector that never reads makes the seam tear with FrameOverflow at maxBufferedFrames", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const sender = yield* joinNode(host.url, { room: "o", peerId: "sender" })
      const idle = yield* joinNode(host.url, { room: "o", peerId: "idle", delivery: DeliveryPolicy.reliable(4), maxBufferedFrames: 50 })
      yield* eventually("sender sees idle", Effect.map(sender.roster.get, (p) => p.has(PeerId("idle"))))
      for (let k = 0; k < 60; k++) yield* sender.seam.sendTo(PeerId("idle"), Uint8Array.of(k))
      yield* eventually("the idle seam tears", Effect.map(idle.seam.state.get, (s) => s._tag === "Torn"))
      const state = yield* idle.seam.state.get
      const cause = state._tag === "Torn" && state.reason._tag === "Error" ? state.reason.cause : undefined
      expect(cause).toMatchObject({ _tag: "FrameOverflow", from: "sender", to: "idle", capacity: 50 })
      // The tear said Bye: the sender is told at once.
      yield* eventually("the sender drops idle", Effect.map(sender.roster.get, (p) => !p.has(PeerId("idle"))))
    }))
})
