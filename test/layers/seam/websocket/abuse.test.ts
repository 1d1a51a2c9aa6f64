/**
 * Misbehaving members: forged senders, garbage, oversized frames, a flood and a slow reader each
 * get the documented outcome, and the host keeps serving the others.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Stream } from "effect"
import { encodeMessage, encodeRelay, MessageType } from "../../../../layers/seam/websocket/Protocol.js"
import { RejectCode } from "../../../../layers/seam/websocket/RejectCode.js"
import { eventually, hostStillServes, joinNode, startHost } from "./fixture.js"
import { rawJoin, waitFor } from "./rawClient.js"

describe("WebSocket host against misbehaving members", () => {
  it.scopedLive("a forged sender is never believed: host-only frames are dropped and relays carry the real sender", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const victim = yield* joinNode(host.url, { room: "r", peerId: "victim" })
      const target = yield* joinNode(host.url, { room: "r", peerId: "target" })
      const { client: forger, welcome } = yield* rawJoin(host.url, { room: "r", peerId: "forger" })
      yield* eventually("target sees the forger", Effect.map(target.seam.peers.get, (p) => p.has(welcome.peerId as never)))
      const got = yield* Effect.fork(Stream.runCollect(Stream.take(target.seam.incoming, 2)))
      // A RelayFrom claiming to come from the victim: a host-only frame, dropped.
      forger.send(encodeRelay(MessageType.RelayFrom, "victim", Uint8Array.of(66)))
      // A relay whose payload pretends (in-band) to be from the victim: delivered, stamped "forger".
      forger.send(encodeRelay(MessageType.RelayTo, "target", new TextEncoder().encode("from: victim")))
      yield* victim.seam.sendTo(target.seam.selfId, Uint8Array.of(1))
      const frames = Chunk.toReadonlyArray(yield* Fiber.join(got).pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie))
      expect(frames.map((s) => [s.sender, s.payloadSize])).toEqual([["forger", 12], ["victim", 1]])
      expect(host.counters.droppedBadFrames).toBe(1)
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("garbage frames from a member are dropped and counted; past maxBadFrames it is closed with ProtocolViolation", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ maxBadFrames: 5 })
      const peer = yield* joinNode(host.url, { room: "g", peerId: "peer" })
      const { client } = yield* rawJoin(host.url, { room: "g", peerId: "noisy" })
      for (let i = 0; i < 5; i++) client.send(Uint8Array.of(0xff, i, 1, 2, 3))
      // Still a member: its next good frame is relayed.
      const got = yield* Effect.fork(Stream.runHead(peer.seam.incoming))
      client.send(encodeRelay(MessageType.RelayTo, "peer", Uint8Array.of(7)))
      const frame = yield* Fiber.join(got).pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie)
      expect(frame._tag === "Some" ? [frame.value.sender, frame.value.payload[0]] : undefined).toEqual(["noisy", 7])
      expect(host.counters.droppedBadFrames).toBe(5)
      client.send(Uint8Array.of(0))
      yield* waitFor("closed for protocol violation", () => client.closed()?.code === RejectCode.ProtocolViolation)
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("a member's frame over maxFrameBytes closes its socket with 1009 and the room drops it after the window", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ maxFrameBytes: 8192, reconnectWindow: Duration.millis(100) })
      const peer = yield* joinNode(host.url, { room: "big", peerId: "peer" })
      const { client } = yield* rawJoin(host.url, { room: "big", peerId: "big" })
      client.send(encodeRelay(MessageType.RelayTo, "peer", new Uint8Array(20_000)))
      yield* waitFor("closed with 1009", () => client.closed()?.code === 1009)
      yield* eventually("the room forgets it", Effect.map(peer.seam.peers.get, (p) => !p.has("big" as never)))
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("a flood from one member reaches a reading peer in order and does not stall another room", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const reader = yield* joinNode(host.url, { room: "flood", peerId: "reader" })
      const { client } = yield* rawJoin(host.url, { room: "flood", peerId: "flooder" })
      yield* eventually("reader sees the flooder", Effect.map(reader.seam.peers.get, (p) => p.has("flooder" as never)))
      const n = 20_000
      const got = yield* Effect.fork(Stream.runFold(Stream.take(reader.seam.incoming, n), { count: 0, inOrder: true }, (acc, s) => {
        const k = (s.payload[0]! << 8) | s.payload[1]!
        return { count: acc.count + 1, inOrder: acc.inOrder && k === (acc.count & 0xffff) }
      }))
      for (let k = 0; k < n; k++) client.send(encodeRelay(MessageType.RelayTo, "reader", Uint8Array.of((k >> 8) & 0xff, k & 0xff, 0, 0)))
      // Meanwhile, another room is served.
      yield* hostStillServes(host.url)
      const result = yield* Fiber.join(got).pipe(Effect.timeout(Duration.seconds(10)), Effect.orDie)
      expect(result).toEqual({ count: n, inOrder: true })
      expect(host.counters.slowConsumers).toBe(0)
    }), 20_000)

  it.scopedLive("a member that stops reading is disconnected as a SlowConsumer once its outbound buffer is full", () =>
    Effect.gen(function*() {
      const limit = 256 * 1024
      const host = yield* startHost({ maxOutboundBytesPerConnection: limit, reconnectWindow: Duration.millis(200) })
      const sender = yield* joinNode(host.url, { room: "slow", peerId: "sender" })
      const { client: slow } = yield* rawJoin(host.url, { room: "slow", peerId: "slow" })
      yield* eventually("sender sees the slow reader", Effect.map(sender.seam.peers.get, (p) => p.has("slow" as never)))
      // Stop reading: the kernel buffers fill, then the host's per-connection buffer.
      ;(slow.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
      const payload = new Uint8Array(60_000)
      yield* Effect.gen(function*() {
        for (let i = 0; i < 2_000 && host.counters.slowConsumers === 0; i++) {
          yield* sender.seam.sendTo("slow" as never, payload).pipe(Effect.ignore)
          if (i % 8 === 0) yield* Effect.sleep(Duration.millis(1))
        }
      })
      expect(host.counters.slowConsumers).toBe(1)
      // The sender was never blocked or disconnected, and the slot is freed after the window.
      expect((yield* sender.seam.state.get)._tag).toBe("Woven")
      yield* eventually("the slow member leaves the roster", Effect.map(sender.seam.peers.get, (p) => !p.has("slow" as never)))
      yield* hostStillServes(host.url)
    }), 20_000)

  it.scopedLive("a Bye from a raw member frees its slot at once", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ reconnectWindow: Duration.seconds(30) })
      const peer = yield* joinNode(host.url, { room: "bye", peerId: "peer" })
      const { client } = yield* rawJoin(host.url, { room: "bye", peerId: "leaver" })
      yield* eventually("peer sees the leaver", Effect.map(peer.seam.peers.get, (p) => p.has("leaver" as never)))
      client.send(encodeMessage({ _tag: "Bye" }))
      yield* eventually("the leaver is gone well before the window", Effect.map(peer.seam.peers.get, (p) => !p.has("leaver" as never)), 2_000)
    }))
})
