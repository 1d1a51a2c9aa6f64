/**
 * Dropped links, resume tokens, reconnect windows and heartbeats, over real loopback sockets.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Fiber, Ref, Scope, Stream } from "effect"
import { WebSocketServer } from "ws"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import { decodeMessage, encodeMessage, PROTOCOL_VERSION } from "../../../../layers/seam/websocket/Protocol.js"
import type { Hello } from "../../../../layers/seam/websocket/Protocol.js"
import { RejectCode } from "../../../../layers/seam/websocket/RejectCode.js"
import { eventually, hostStillServes, joinNode, startHost } from "./fixture.js"
import { helloFrame, rawConnect, rawJoin, rejectOf, waitFor } from "./rawClient.js"

const id = (s: string) => s as PeerId

describe("WebSocket resume and heartbeats", () => {
  it.scopedLive("a dropped client reports Weaving, resumes its slot with the same id and exchanges frames again", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ reconnectWindow: Duration.seconds(5) })
      const a = yield* joinNode(host.url, { room: "r", peerId: "a" })
      const b = yield* joinNode(host.url, { room: "r", peerId: "b" })
      yield* eventually("a sees b", Effect.map(a.seam.peers.get, (p) => p.has(id("b"))))
      const states = yield* Effect.fork(
        a.seam.state.changes.pipe(Stream.map((s) => s._tag), Stream.changes, Stream.take(3), Stream.runCollect)
      )
      const bSawALeave = yield* Ref.make(false)
      const bPeers = yield* Effect.fork(
        Stream.runForEach(b.seam.peers.changes, (p) => p.has(id("a")) ? Effect.void : Ref.set(bSawALeave, true))
      )
      expect(yield* host.dropLink("r", "a")).toBe(true)
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(states).pipe(Effect.timeout(Duration.seconds(5)), Effect.orDie))
      expect(seen).toEqual(["Woven", "Weaving", "Woven"])
      expect(a.seam.selfId).toBe("a")
      expect(a.counters.resumes).toBe(1)
      expect(host.counters.resumed).toBe(1)
      const atB = yield* Effect.fork(Stream.runHead(b.seam.incoming))
      yield* a.seam.sendTo(id("b"), Uint8Array.of(5))
      const frame = yield* Fiber.join(atB).pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie)
      expect(frame._tag === "Some" ? frame.value.sender : undefined).toBe("a")
      // The other member never saw a leave: a brief drop is not a membership change.
      yield* Fiber.interrupt(bPeers)
      expect(yield* Ref.get(bSawALeave)).toBe(false)
      expect((yield* host.rooms)[0]!.members.map((m) => m.connected)).toEqual([true, true])
    }))

  it.scopedLive("a stale (rotated) token, a token of another room and a token of another peer are refused with ResumeTokenInvalid", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ reconnectWindow: Duration.seconds(5) })
      yield* rawJoin(host.url, { room: "other", peerId: "x" })
      const first = yield* rawJoin(host.url, { room: "r", peerId: "p" })
      yield* host.dropLink("r", "p")
      const resumed = yield* rawJoin(host.url, { room: "r", peerId: "p", resumeToken: first.welcome.resumeToken })
      expect(resumed.welcome.resumed).toBe(true)
      const refusedWith = (fields: Parameters<typeof helloFrame>[0]) =>
        Effect.gen(function*() {
          const c = yield* rawConnect(host.url)
          c.send(helloFrame(fields))
          yield* waitFor("refused", () => c.closed() !== undefined)
          return [rejectOf(c)?._tag === "Reject" ? (rejectOf(c) as { code: number }).code : undefined, c.closed()?.code]
        })
      const invalid = [RejectCode.ResumeTokenInvalid, RejectCode.ResumeTokenInvalid]
      expect(yield* refusedWith({ room: "r", peerId: "p", resumeToken: first.welcome.resumeToken })).toEqual(invalid)
      expect(yield* refusedWith({ room: "other", resumeToken: resumed.welcome.resumeToken })).toEqual(invalid)
      expect(yield* refusedWith({ room: "r", peerId: "x", resumeToken: resumed.welcome.resumeToken })).toEqual(invalid)
      expect(yield* refusedWith({ room: "r", resumeToken: new Uint8Array(16).fill(7) })).toEqual(invalid)
      // The legitimate holder is unaffected by the failed attempts.
      expect(resumed.client.closed()).toBeUndefined()
      yield* hostStillServes(host.url)
    }))

  it.scopedLive("after the reconnect window the slot is freed, the room is told, and the token is dead", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ reconnectWindow: Duration.millis(150) })
      const peer = yield* joinNode(host.url, { room: "w", peerId: "peer" })
      const gone = yield* rawJoin(host.url, { room: "w", peerId: "gone" })
      yield* eventually("peer sees gone", Effect.map(peer.seam.peers.get, (p) => p.has(id("gone"))))
      gone.client.ws.terminate()
      yield* eventually("the window expires", Effect.map(peer.seam.peers.get, (p) => !p.has(id("gone"))), 3_000)
      expect(host.counters.windowsExpired).toBe(1)
      const late = yield* rawConnect(host.url)
      late.send(helloFrame({ room: "w", peerId: "gone", resumeToken: gone.welcome.resumeToken }))
      yield* waitFor("refused", () => late.closed()?.code === RejectCode.ResumeTokenInvalid)
    }))

  it.scopedLive("the host closes a half-open member that stops answering heartbeats", () =>
    Effect.gen(function*() {
      const host = yield* startHost({ heartbeatInterval: Duration.millis(50), reconnectWindow: Duration.millis(100) })
      const peer = yield* joinNode(host.url, { room: "h", peerId: "peer" })
      const mute = yield* rawJoin(host.url, { room: "h", peerId: "mute" }, { mute: true })
      // The raw client never answers pings: from the host's side it is a half-open link.
      void mute
      yield* eventually("the host times the mute member out", Effect.sync(() => host.counters.heartbeatTimeouts >= 1), 3_000)
      yield* eventually("the room forgets it", Effect.map(peer.seam.peers.get, (p) => !p.has(id("mute"))), 3_000)
      // The kuilt client answers pings, so it was never timed out.
      expect((yield* peer.seam.state.get)._tag).toBe("Woven")
      expect(host.counters.heartbeatTimeouts).toBe(1)
    }))

  it.scopedLive("a client whose host goes silent detects it, tries to resume and, told never to rejoin, tears when the resume is refused", () =>
    Effect.gen(function*() {
      // A fake host: welcomes, then never sends again (a half-open link), and refuses resumes.
      const hellos: Array<Hello> = []
      const server = yield* Effect.acquireRelease(
        Effect.async<WebSocketServer>((resume) => {
          const wss: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(wss)))
        }),
        (wss) => Effect.async<void>((resume) => wss.close(() => resume(Effect.void)))
      )
      server.on("connection", (ws) => {
        ws.on("message", (data: Buffer) => {
          const m = decodeMessage(new Uint8Array(data))
          if (m._tag !== "Right" || m.right._tag !== "Hello") return
          hellos.push(m.right)
          if (m.right.resumeToken !== undefined) {
            ws.send(encodeMessage({ _tag: "Reject", code: RejectCode.ResumeTokenInvalid, reason: "no" }))
            ws.close(RejectCode.ResumeTokenInvalid)
            return
          }
          ws.send(encodeMessage({
            _tag: "Welcome",
            protocolVersion: PROTOCOL_VERSION,
            serverPeerId: "fake",
            room: m.right.room,
            peerId: "me",
            resumeToken: new Uint8Array(16).fill(1),
            maxPayloadBytes: 1000,
            heartbeatIntervalMs: 50,
            reconnectWindowMs: 5_000,
            resumed: false,
            roster: ["me"]
          }))
        })
      })
      const port = (server.address() as { port: number }).port
      const scope = yield* Scope.make()
      const room = yield* joinNode(`ws://127.0.0.1:${port}`, { room: "r", serverPeerId: "fake", reconnect: { maxRejoins: 0 } }).pipe(
        Scope.extend(scope)
      )
      yield* eventually("the client tears", Effect.map(room.seam.state.get, (s) => s._tag === "Torn"), 3_000)
      const state = yield* room.seam.state.get
      const cause = state._tag === "Torn" && state.reason._tag === "Error" ? state.reason.cause : undefined
      expect(cause).toMatchObject({ _tag: "JoinRefused", code: RejectCode.ResumeTokenInvalid })
      expect(hellos.map((h) => [h.peerId, h.resumeToken?.[0]])).toEqual([[undefined, undefined], ["me", 1]])
      yield* Scope.close(scope, Exit.void)
    }))

  it.scopedLive("a client limited to 2 rejoins whose host shuts down tears with Unreachable once the window has passed", () =>
    Effect.gen(function*() {
      const hostScope = yield* Scope.make()
      const host = yield* startHost({ reconnectWindow: Duration.millis(300) }).pipe(Scope.extend(hostScope))
      const room = yield* joinNode(host.url, { room: "r", reconnect: { maxRejoins: 2, maxDelay: Duration.millis(100) } })
      yield* Scope.close(hostScope, Exit.void)
      yield* eventually("the client reports Weaving", Effect.map(room.seam.state.get, (s) => s._tag !== "Woven"), 2_000)
      yield* eventually("the client tears", Effect.map(room.seam.state.get, (s) => s._tag === "Torn"), 3_000)
      const state = yield* room.seam.state.get
      expect(state._tag === "Torn" ? state.reason._tag : undefined).toBe("Unreachable")
      expect([...(yield* room.seam.peers.get)]).toEqual([room.seam.selfId])
    }))
})
