/**
 * Identity by default: with a shared secret, a peer id is bound to a token for it; a claim without
 * the right token is refused with `AuthRefused` and counted; the same identity joining again takes
 * its own slot back at once; another identity never can.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Logger, Metric, Ref, Stream } from "effect"
import { AuthRejected, HostIdentity } from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import * as WebSocketHost from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import * as HostMetrics from "../../../../layers/seam/websocket/node/HostMetrics.js"
import { PeerToken } from "../../../../layers/seam/websocket/PeerToken.js"
import { RejectCode } from "../../../../layers/seam/websocket/RejectCode.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import { eventually, joinNode, startHost } from "./fixture.js"
import { rawJoin } from "./rawClient.js"

const SECRET = "kuilt test secret, 32 bytes long"
const id = (s: string) => s as PeerId

const secretHost = (options: WebSocketHost.WebSocketHostOptions = {}) =>
  startHost({ identity: HostIdentity.sharedSecret({ secret: SECRET }), ...options })

const refusals = (host: { serverPeerId: string }, reason: string) =>
  Metric.value(HostMetrics.refusals.pipe(Metric.tagged("host", host.serverPeerId), Metric.tagged("reason", reason))).pipe(
    Effect.map((s) => s.count)
  )

describe("WebSocket host identity", () => {
  it.scopedLive("with a shared secret, a claim without a token, with another peer's token or another room's is refused and counted", () =>
    Effect.gen(function*() {
      const host = yield* secretHost()
      const key = yield* PeerToken.secret(SECRET)
      const tokenFor = (room: string, peerId: string) => PeerToken.mint(key, { room, peerId, ttl: "1 hour" })
      const none = yield* Effect.flip(joinNode(host.url, { room: "r", peerId: "n1" }))
      expect(none).toMatchObject({ _tag: "JoinRefused", code: RejectCode.AuthRefused })
      const othersToken = yield* Effect.flip(joinNode(host.url, { room: "r", peerId: "n1", credentials: yield* tokenFor("r", "n2") }))
      expect(othersToken).toMatchObject({ code: RejectCode.AuthRefused })
      expect(othersToken.message).toContain(`issued for peer "n2"`)
      const otherRoom = yield* Effect.flip(joinNode(host.url, { room: "r", peerId: "n1", credentials: yield* tokenFor("s", "n1") }))
      expect(otherRoom).toMatchObject({ code: RejectCode.AuthRefused })
      const forged = yield* Effect.flip(joinNode(host.url, { room: "r", peerId: "n1", credentials: "kuilt1.9999999999.cg.bjE.AAAA" }))
      expect(forged).toMatchObject({ code: RejectCode.AuthRefused })
      const anonymous = yield* Effect.flip(joinNode(host.url, { room: "r" }))
      expect(anonymous).toMatchObject({ code: RejectCode.AuthRefused })
      expect(host.counters.rejected["AuthRefused"]).toBe(5)
      yield* eventually("the refusals are published as a metric", Effect.map(refusals(host, "AuthRefused"), (n) => n === 5))
      const ok = yield* joinNode(host.url, { room: "r", peerId: "n1", credentials: yield* tokenFor("r", "n1") })
      expect(ok.seam.selfId).toBe("n1")
      expect((yield* host.rooms)[0]!.members).toMatchObject([{ peerId: "n1", principal: "peer:n1" }])
    }))

  it.scopedLive("a dead member's id cannot be taken by a client without its token, even after its window", () =>
    Effect.gen(function*() {
      const host = yield* secretHost({ reconnectWindow: Duration.millis(100) })
      const credentials = yield* PeerToken.credentials(SECRET)
      const peer = yield* joinNode(host.url, { room: "r", peerId: "peer", credentials })
      const voter = yield* rawJoin(host.url, { room: "r", peerId: "voter", credentials: (yield* credentials({ room: "r", peerId: "voter" }))! })
      yield* eventually("peer sees the voter", Effect.map(peer.roster.get, (p) => p.has(id("voter"))))
      voter.client.ws.terminate()
      const during = yield* Effect.flip(joinNode(host.url, { room: "r", peerId: "voter" }))
      expect(during).toMatchObject({ code: RejectCode.AuthRefused })
      yield* eventually("the window passes", Effect.map(peer.roster.get, (p) => !p.has(id("voter"))))
      const after = yield* Effect.flip(joinNode(host.url, { room: "r", peerId: "voter", credentials: "guess" }))
      expect(after).toMatchObject({ code: RejectCode.AuthRefused })
      expect(host.counters.takeovers).toBe(0)
    }))

  it.scopedLive("the same identity joining again takes its slot back at once; the stale connection is Superseded", () =>
    Effect.gen(function*() {
      const host = yield* secretHost({ reconnectWindow: Duration.seconds(30) })
      const credentials = yield* PeerToken.credentials(SECRET)
      const other = yield* joinNode(host.url, { room: "r", peerId: "other", credentials })
      const first = yield* joinNode(host.url, { room: "r", peerId: "n1", credentials })
      yield* eventually("other sees n1", Effect.map(other.roster.get, (p) => p.has(id("n1"))))
      const otherSawLeave = yield* Ref.make(false)
      yield* Effect.fork(Stream.runForEach(other.roster.changes, (p) => (p.has(id("n1")) ? Effect.void : Ref.set(otherSawLeave, true))))
      // A second process of the same identity (say, the first one restarted while its socket lingers).
      const second = yield* joinNode(host.url, { room: "r", peerId: "n1", credentials })
      expect(second.seam.selfId).toBe("n1")
      yield* eventually("the first tears", Effect.map(first.seam.state.get, (s) => s._tag === "Torn"))
      const state = yield* first.seam.state.get
      expect(state._tag === "Torn" && state.reason._tag === "Error" ? state.reason.cause : undefined).toMatchObject({
        _tag: "JoinRefused",
        code: RejectCode.Superseded
      })
      expect((yield* first.status.get)._tag).toBe("Closed")
      expect(host.counters.takeovers).toBe(1)
      // The room never saw n1 leave, and frames reach the new connection.
      const got = yield* Effect.fork(Stream.runHead(second.seam.incoming))
      yield* other.seam.sendTo(id("n1"), Uint8Array.of(42))
      const frame = yield* got.pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie)
      expect(frame._tag === "Some" ? frame.value.payload[0] : undefined).toBe(42)
      expect(yield* Ref.get(otherSawLeave)).toBe(false)
    }))

  it.scopedLive("a crashed member (socket gone, slot in its window) is taken back by its identity without waiting", () =>
    Effect.gen(function*() {
      const host = yield* secretHost({ reconnectWindow: Duration.seconds(30) })
      const credentials = yield* PeerToken.credentials(SECRET)
      const crashed = yield* rawJoin(host.url, { room: "r", peerId: "n1", credentials: (yield* credentials({ room: "r", peerId: "n1" }))! })
      crashed.client.ws.terminate()
      yield* eventually("the host sees the drop", Effect.map(host.rooms, (rooms) => rooms[0]?.members[0]?.connected === false))
      const back = yield* joinNode(host.url, { room: "r", peerId: "n1", credentials })
      expect(back.seam.selfId).toBe("n1")
      expect((yield* host.rooms)[0]!.members).toMatchObject([{ peerId: "n1", connected: true }])
      expect(host.counters.takeovers).toBe(1)
    }))

  it.scopedLive("with a verifier, a slot is taken back only by the same principal", () =>
    Effect.gen(function*() {
      const host = yield* startHost({
        reconnectWindow: Duration.seconds(30),
        identity: HostIdentity.verifier((hello) =>
          hello.credentials?.startsWith("user:") ? Effect.succeed(hello.credentials) : Effect.fail(new AuthRejected({ reason: "who?" })))
      })
      const ada = yield* joinNode(host.url, { room: "r", peerId: "seat-1", credentials: "user:ada" })
      const bob = yield* Effect.flip(joinNode(host.url, { room: "r", peerId: "seat-1", credentials: "user:bob" }))
      expect(bob).toMatchObject({ code: RejectCode.PeerIdInUse })
      expect(bob.message).toContain("another identity")
      const again = yield* joinNode(host.url, { room: "r", peerId: "seat-1", credentials: "user:ada" })
      expect(again.seam.selfId).toBe("seat-1")
      yield* eventually("the first ada connection tears", Effect.map(ada.seam.state.get, (s) => s._tag === "Torn"))
    }))

  it.scopedLive("a host started without an identity logs a warning that it is open; an open host never hands a live slot over", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => void lines.push(`${logLevel.label} ${String(message)}`))
      const host = yield* WebSocketHost.make({ reconnectWindow: Duration.seconds(30) }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Effect.orDie
      )
      expect(lines.some((l) => l.startsWith("WARN") && l.includes("is OPEN"))).toBe(true)
      yield* joinNode(host.url, { room: "r", peerId: "n1" })
      const second = yield* Effect.flip(joinNode(host.url, { room: "r", peerId: "n1" }))
      expect(second).toMatchObject({ code: RejectCode.PeerIdInUse })
    }))

  it.scopedLive("a shared secret shorter than 16 bytes fails the host's start", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WebSocketHost.make({ identity: HostIdentity.sharedSecret({ secret: "short" }) }))
      expect(error).toMatchObject({ _tag: "WeaveFailed" })
      expect(error.reason).toContain("16")
    }))
})
