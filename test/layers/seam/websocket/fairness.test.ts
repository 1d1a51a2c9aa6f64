/**
 * Fairness limits of the host: per-connection rate limits push back (no frame lost, pauses
 * counted), one address cannot take more than its cap of connections, and a slow reader is ended
 * with its code while the others keep being served.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Metric, Stream } from "effect"
import * as HostMetrics from "../../../../layers/seam/websocket/node/HostMetrics.js"
import { encodeRelay, MessageType } from "../../../../layers/seam/websocket/Protocol.js"
import { RejectCode } from "../../../../layers/seam/websocket/RejectCode.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import { eventually, hostStillServes, joinNode, startHost } from "./fixture.js"
import { rawConnect, rawJoin, waitFor } from "./rawClient.js"

describe("WebSocket host fairness", () => {
  it.scopedLive("a sender over its message rate is paused, not dropped: every frame arrives in order", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ rateLimit: { messagesPerSecond: 2_000, messageBurst: 200 } })
      const reader = yield* joinNode(host.url, { room: "r", peerId: "reader" })
      const { client } = yield* rawJoin(host.url, { room: "r", peerId: "fast" })
      yield* eventually("the reader sees the sender", Effect.map(reader.roster.get, (p) => p.has("fast" as PeerId)))
      const n = 2_000
      const got = yield* Effect.fork(Stream.runFold(Stream.take(reader.seam.incoming, n), { count: 0, inOrder: true }, (acc, s) => ({
        count: acc.count + 1,
        inOrder: acc.inOrder && ((s.payload[0]! << 8) | s.payload[1]!) === acc.count
      })))
      for (let k = 0; k < n; k++) client.send(encodeRelay(MessageType.RelayTo, "reader", Uint8Array.of(k >> 8, k & 0xff)))
      const result = yield* got.pipe(Effect.timeout(Duration.seconds(15)), Effect.orDie)
      expect(result).toEqual({ count: n, inOrder: true })
      expect(host.counters.rateLimited).toBeGreaterThan(0)
      yield* eventually("the pauses are published as a metric", Effect.map(
        Metric.value(HostMetrics.rateLimited.pipe(Metric.tagged("host", host.serverPeerId))),
        (s) => s.count === host.counters.rateLimited
      ))
    }), 20_000)

  it.scopedLive("a sender over its byte rate is paused too", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ rateLimit: { bytesPerSecond: 256 * 1024, byteBurst: 64 * 1024 } })
      const reader = yield* joinNode(host.url, { room: "r", peerId: "reader" })
      const { client } = yield* rawJoin(host.url, { room: "r", peerId: "big" })
      yield* eventually("the reader sees the sender", Effect.map(reader.roster.get, (p) => p.has("big" as PeerId)))
      const got = yield* Effect.fork(Stream.runCount(Stream.take(reader.seam.incoming, 20)))
      for (let k = 0; k < 20; k++) client.send(encodeRelay(MessageType.RelayTo, "reader", new Uint8Array(16 * 1024)))
      expect(yield* got.pipe(Effect.timeout(Duration.seconds(10)), Effect.orDie)).toBe(20)
      expect(host.counters.rateLimited).toBeGreaterThan(0)
    }))

  it.scopedLive("one address cannot open more than maxConnectionsPerAddress connections; others are refused with AddressLimit", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ maxConnectionsPerAddress: 3 })
      const held = [yield* rawConnect(host.url), yield* rawConnect(host.url), yield* rawConnect(host.url)]
      const extra = yield* rawConnect(host.url)
      yield* waitFor("the fourth is refused", () => extra.closed()?.code === RejectCode.AddressLimit)
      expect(host.counters.rejected["AddressLimit"]).toBe(1)
      expect(held.every((c) => c.closed() === undefined)).toBe(true)
      // A freed connection frees a place.
      held[0]!.ws.close()
      yield* waitFor("the first is closed", () => held[0]!.closed() !== undefined)
      yield* eventually("a place is free again", Effect.sync(() => host.counters.connectionsOpened >= 4))
      const again = yield* rawJoin(host.url, { room: "cap" })
      expect(again.welcome.room).toBe("cap")
    }))

  it.scopedLive("a slow reader is ended with SlowConsumer, frames for it are dropped and counted, the rest are served", () =>
    Effect.gen(function*() {
      const host = yield* startHost({
        maxOutboundBytesPerConnection: 128 * 1024,
        slowConsumerGrace: Duration.millis(300),
        reconnectWindow: Duration.millis(200)
      })
      const sender = yield* joinNode(host.url, { room: "slow", peerId: "sender" })
      const { client: slow } = yield* rawJoin(host.url, { room: "slow", peerId: "slow" })
      yield* eventually("sender sees the slow reader", Effect.map(sender.roster.get, (p) => p.has("slow" as PeerId)))
      ;(slow.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
      const payload = new Uint8Array(32_000)
      for (let i = 0; i < 2_000 && host.counters.slowConsumers === 0; i++) {
        yield* sender.seam.sendTo("slow" as PeerId, payload).pipe(Effect.ignore)
        if (i % 8 === 0) yield* Effect.sleep(Duration.millis(1))
      }
      const noPeerBefore = host.counters.droppedNoPeer
      for (let i = 0; i < 5; i++) yield* sender.seam.sendTo("slow" as PeerId, payload).pipe(Effect.ignore)
      expect(host.counters.slowConsumers).toBe(1)
      expect(host.counters.rejected["SlowConsumer"]).toBe(1)
      // The frame that overflowed, then every later one: the slot has no connection any more.
      expect(host.counters.droppedSlowConsumer).toBe(1)
      yield* eventually("later frames for it are dropped and counted", Effect.sync(() => host.counters.droppedNoPeer >= noPeerBefore + 5))
      // The reader never read its close frame: the host destroys its socket after the grace, and
      // only the sender's connection is left.
      const connections = Metric.value(HostMetrics.connections.pipe(Metric.tagged("host", host.serverPeerId)))
      yield* eventually("the host destroys the slow socket", Effect.map(connections, (g) => g.value === 1), 5_000)
      yield* eventually("the slow member leaves the roster", Effect.map(sender.roster.get, (p) => !p.has("slow" as PeerId)))
      expect((yield* sender.seam.state.get)._tag).toBe("Woven")
      yield* hostStillServes(host.url)
    }), 20_000)

  it.scopedLive("a slow reader that catches up reads the SlowConsumer close code", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ maxOutboundBytesPerConnection: 64 * 1024, slowConsumerGrace: Duration.seconds(5) })
      const sender = yield* joinNode(host.url, { room: "s", peerId: "sender" })
      const { client: slow } = yield* rawJoin(host.url, { room: "s", peerId: "slow" })
      yield* eventually("sender sees it", Effect.map(sender.roster.get, (p) => p.has("slow" as PeerId)))
      const socket = (slow.ws as unknown as { _socket: { pause: () => void; resume: () => void } })._socket
      socket.pause()
      for (let i = 0; i < 2_000 && host.counters.slowConsumers === 0; i++) {
        yield* sender.seam.sendTo("slow" as PeerId, new Uint8Array(32_000)).pipe(Effect.ignore)
        if (i % 8 === 0) yield* Effect.sleep(Duration.millis(1))
      }
      expect(host.counters.slowConsumers).toBe(1)
      socket.resume()
      yield* waitFor("the close code arrives", () => slow.closed()?.code === RejectCode.SlowConsumer, 5_000)
    }), 20_000)
})
