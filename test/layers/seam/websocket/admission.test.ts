/**
 * Admission hardening: every bad handshake gets its documented reject code and close, and the
 * host keeps serving the other clients afterwards.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Stream } from "effect"
import { PeerId } from "../../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import { AuthRejected, HostIdentity } from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import { MessageType } from "../../../../layers/seam/websocket/Protocol.js"
import { RejectCode } from "../../../../layers/seam/websocket/RejectCode.js"
import { eventually, hostStillServes, joinNode, startHost, WaitTimedOut } from "./fixture.js"
import { helloFrame, rawConnect, rejectOf, waitFor } from "./rawClient.js"

const closedWith = (code: number) => (c: { closed: () => { code: number } | undefined }) => c.closed()?.code === code

describe("WebSocket host admission", () => {
  it.scopedLive("a first frame of garbage is rejected with MalformedHello and closed", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const c = yield* rawConnect(host.url)
      c.send(Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 7, 7, 7))
      yield* waitFor("the garbage client is closed", () => closedWith(RejectCode.MalformedHello)(c))
      expect(rejectOf(c)).toMatchObject({ _tag: "Reject", code: RejectCode.MalformedHello })
      expect(host.counters.rejected["MalformedHello"]).toBe(1)
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("a well-formed frame that is not a Hello is rejected with MalformedHello", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const c = yield* rawConnect(host.url)
      // A relay frame before admission: nothing may be relayed for an unadmitted connection.
      c.send(Uint8Array.of(1, MessageType.Broadcast, 1, 0, 0, 0, 9))
      yield* waitFor("closed", () => closedWith(RejectCode.MalformedHello)(c))
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("a hello larger than maxHelloBytes is rejected with MalformedHello", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ maxHelloBytes: 1024 })
      const c = yield* rawConnect(host.url)
      c.send(helloFrame({ credentials: "x".repeat(2000) }))
      yield* waitFor("closed", () => closedWith(RejectCode.MalformedHello)(c))
      expect(rejectOf(c)).toMatchObject({ code: RejectCode.MalformedHello })
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("a first frame over maxFrameBytes closes the socket with 1009", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ maxFrameBytes: 4096 })
      const c = yield* rawConnect(host.url)
      c.send(new Uint8Array(10_000))
      yield* waitFor("closed with 1009", () => closedWith(1009)(c))
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("a connection that never says hello is closed with HandshakeTimeout", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ handshakeTimeout: Duration.millis(200) })
      const c = yield* rawConnect(host.url)
      yield* waitFor("closed by the handshake timeout", () => closedWith(RejectCode.HandshakeTimeout)(c), 2_000)
      expect(host.counters.rejected["HandshakeTimeout"]).toBe(1)
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("a hello of another protocol version is rejected with ProtocolMismatch", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const c = yield* rawConnect(host.url)
      c.send(helloFrame({ protocolVersion: 99 }))
      yield* waitFor("closed", () => closedWith(RejectCode.ProtocolMismatch)(c))
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("an upgrade from an origin that is not allowed is refused with HTTP 403", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ allowedOrigins: ["https://good.example"] })
      const bad = yield* rawConnect(host.url, { Origin: "https://evil.example" })
      yield* waitFor("refused", () => bad.httpStatus() !== undefined)
      expect(bad.httpStatus()).toBe(403)
      expect(host.counters.originRefused).toBe(1)
      const good = yield* rawConnect(host.url, { Origin: "https://good.example" })
      good.send(helloFrame())
      yield* waitFor("the allowed origin is welcomed", () => good.received.some((m) => m?._tag === "Welcome"))
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("the authentication hook refuses bad credentials and names the principal of good ones", () =>
    Effect.gen(function*() {
      const host = yield* startHost({
        identity: HostIdentity.verifier((hello) =>
          hello.credentials === "secret"
            ? Effect.succeed(`user:${hello.displayName}`)
            : Effect.fail(new AuthRejected({ reason: "bad token" })))
      })
      const refused = yield* Effect.flip(joinNode(host.url, { room: "auth", credentials: "wrong" }))
      expect(refused).toMatchObject({ _tag: "JoinRefused", code: RejectCode.AuthRefused, reason: "bad token" })
      const ok = yield* joinNode(host.url, { room: "auth", displayName: "ada", credentials: "secret" })
      const rooms = yield* host.rooms
      expect(rooms.find((r) => r.name === "auth")?.members).toEqual([
        { peerId: ok.seam.selfId, displayName: "ada", connected: true, principal: "user:ada" }
      ])
    }))

  it.scopedLive("a requested peer id that is live in the room is refused with PeerIdInUse", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const first = yield* joinNode(host.url, { room: "ids", peerId: "n1" })
      expect(first.seam.selfId).toBe("n1")
      const second = yield* Effect.flip(joinNode(host.url, { room: "ids", peerId: "n1" }))
      expect(second).toMatchObject({ _tag: "JoinRefused", code: RejectCode.PeerIdInUse })
      // The same id in another room is another member.
      const elsewhere = yield* joinNode(host.url, { room: "other", peerId: "n1" })
      expect(elsewhere.seam.selfId).toBe("n1")
    }))

  it.scopedLive("a join beyond roomCapacity is refused with RoomFull and beyond maxRooms with HostFull", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ roomCapacity: 2, maxRooms: 2 })
      yield* joinNode(host.url, { room: "a" })
      yield* joinNode(host.url, { room: "a" })
      expect(yield* Effect.flip(joinNode(host.url, { room: "a" }))).toMatchObject({ code: RejectCode.RoomFull })
      yield* joinNode(host.url, { room: "b" })
      expect(yield* Effect.flip(joinNode(host.url, { room: "c" }))).toMatchObject({ code: RejectCode.HostFull })
    }))

  it.scopedLive("connections beyond maxConnections are refused with HostFull", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ maxConnections: 2 })
      yield* rawConnect(host.url)
      yield* rawConnect(host.url)
      const third = yield* rawConnect(host.url)
      yield* waitFor("the third is refused", () => closedWith(RejectCode.HostFull)(third))
    }))

  it.scopedLive("frames never cross rooms, even between members with the same peer ids", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const a1 = yield* joinNode(host.url, { room: "one", peerId: "a" })
      const b1 = yield* joinNode(host.url, { room: "one", peerId: "b" })
      const a2 = yield* joinNode(host.url, { room: "two", peerId: "a" })
      const b2 = yield* joinNode(host.url, { room: "two", peerId: "b" })
      for (const seam of [a1.seam, a2.seam]) yield* eventually("rosters settle", Effect.map(seam.peers.get, (p) => p.size === 2))
      expect([...(yield* a2.seam.peers.get)].sort()).toEqual(["a", "b"])
      expect((yield* host.rooms).map((r) => r.members.length)).toEqual([2, 2])
      const atA1 = yield* Effect.fork(firstBytes(a1.seam, 3))
      const atA2 = yield* Effect.fork(firstBytes(a2.seam, 2))
      yield* b1.seam.sendTo(PeerId("a"), Uint8Array.of(1))
      yield* b1.seam.broadcast(Uint8Array.of(11))
      yield* b2.seam.sendTo(PeerId("a"), Uint8Array.of(2))
      // Markers: had a frame crossed rooms, it would arrive before them.
      yield* b1.seam.sendTo(PeerId("a"), Uint8Array.of(99))
      yield* b2.seam.sendTo(PeerId("a"), Uint8Array.of(98))
      expect(yield* Fiber.join(atA1)).toEqual([1, 11, 99])
      expect(yield* Fiber.join(atA2)).toEqual([2, 98])
    }))
})

/** The first byte of each of the first `n` frames (bounded wait). */
const firstBytes = (seam: SeamShape, n: number) =>
  Stream.runCollect(Stream.take(seam.incoming, n)).pipe(
    Effect.map((c) => Chunk.toReadonlyArray(c).map((s) => s.payload[0]!)),
    Effect.timeoutFail({ duration: Duration.seconds(3), onTimeout: () => new WaitTimedOut({ what: `fewer than ${n} frames` }) }),
    Effect.orDie
  )
