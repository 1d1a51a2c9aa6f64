import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { PeerId } from "../../services/seam/PeerId.js"
import { CloseReason, SeamState } from "../../services/seam/SeamState.js"
import { Mux } from "../../src/seam/index.js"
import { bytes, collectText, makeMesh } from "./fixtures.js"

const a = PeerId("a")
const b = PeerId("b")
const c = PeerId("c")

const threeNamed = (options: { maxPayloadBytes?: number } = {}) =>
  Effect.gen(function*() {
    const mesh = yield* makeMesh(["a", "b", "c"], options)
    const muxA = yield* Mux.byName(mesh.seam("a"))
    const muxB = yield* Mux.byName(mesh.seam("b"))
    const muxC = yield* Mux.byName(mesh.seam("c"))
    return { mesh, muxA, muxB, muxC }
  })

/** `n` bytes of UTF-8 made of 3-byte characters (n divisible by 3). */
const euros = (n: number) => "€".repeat(n / 3)

describe("Mux.byName", () => {
  it.scoped("routes each frame to the channel of its name, between three peers", () =>
    Effect.gen(function*() {
      const { muxA, muxB, muxC } = yield* threeNamed()
      const aRaft = yield* muxA.channel("raft")
      const aGame = yield* muxA.channel("game")
      const aPrefix = yield* muxA.channel("raftx") // shares a prefix with "raft"
      const bRaft = yield* muxB.channel("raft")
      const bGame = yield* muxB.channel("game")
      const bPrefix = yield* muxB.channel("raftx")
      const cGame = yield* muxC.channel("game")
      const cUnicode = yield* muxC.channel("チャット")
      const bUnicode = yield* muxB.channel("チャット")
      const gotBRaft = yield* collectText(bRaft.incoming, 1)
      const gotBGame = yield* collectText(bGame.incoming, 1)
      const gotBPrefix = yield* collectText(bPrefix.incoming, 1)
      const gotCGame = yield* collectText(cGame.incoming, 1)
      const gotCUnicode = yield* collectText(cUnicode.incoming, 1)
      yield* aRaft.sendTo(b, bytes("vote"))
      yield* aPrefix.sendTo(b, bytes("x"))
      yield* aGame.broadcast(bytes("move"))
      yield* bUnicode.sendTo(c, bytes("こんにちは"))
      expect(yield* Fiber.join(gotBRaft)).toEqual(["a:vote"])
      expect(yield* Fiber.join(gotBPrefix)).toEqual(["a:x"])
      expect(yield* Fiber.join(gotBGame)).toEqual(["a:move"])
      expect(yield* Fiber.join(gotCGame)).toEqual(["a:move"])
      expect(yield* Fiber.join(gotCUnicode)).toEqual(["b:こんにちは"])
      expect(muxC.stats.droppedUnknownChannel).toBe(0)
    }))

  it.scoped("channel is idempotent per name", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeNamed()
      const first = yield* muxA.channel("x")
      expect(yield* muxA.channel("x")).toBe(first)
      expect(yield* muxA.channel("y")).not.toBe(first)
    }))

  it.scoped("names must encode to 1..255 well-formed UTF-8 bytes", () =>
    Effect.gen(function*() {
      const { muxA, muxB } = yield* threeNamed()
      const empty = yield* Effect.flip(muxA.channel(""))
      expect(empty).toMatchObject({ _tag: "InvalidChannelName", byteLength: 0, reason: "empty" })
      const ascii256 = yield* Effect.flip(muxA.channel("n".repeat(256)))
      expect(ascii256).toMatchObject({ _tag: "InvalidChannelName", byteLength: 256, reason: "too-long" })
      // 85 three-byte characters plus one byte: 86 characters, but 256 bytes.
      const multi256 = yield* Effect.flip(muxA.channel(euros(255) + "n"))
      expect(multi256).toMatchObject({ byteLength: 256, reason: "too-long" })
      const lone = yield* Effect.flip(muxA.channel("a\uD800"))
      expect(lone).toMatchObject({ _tag: "InvalidChannelName", reason: "not-well-formed" })
      // Exactly 255 bytes of multi-byte characters is accepted, and routes.
      const maxA = yield* muxA.channel(euros(255))
      const maxB = yield* muxB.channel(euros(255))
      const ascii255 = yield* muxA.channel("n".repeat(255))
      expect(ascii255.selfId).toBe(a)
      const got = yield* collectText(maxB.incoming, 1)
      yield* maxA.sendTo(b, bytes("long-name"))
      expect(yield* Fiber.join(got)).toEqual(["a:long-name"])
    }))

  it.scoped("malformed headers and unknown names are dropped and counted; later frames still arrive", () =>
    Effect.gen(function*() {
      const { mesh, muxA, muxB } = yield* threeNamed()
      const aChat = yield* muxA.channel("chat")
      const bChat = yield* muxB.channel("chat")
      const got = yield* collectText(bChat.incoming, 2)
      const rawA = mesh.seam("a")
      yield* rawA.sendTo(b, new Uint8Array(0)) // empty
      yield* rawA.sendTo(b, Uint8Array.of(0, 1, 2)) // name length 0
      yield* rawA.sendTo(b, Uint8Array.of(5, 0x63, 0x68)) // name runs past the end
      yield* rawA.sendTo(b, Uint8Array.of(4, 0x63, 0x68, 0x61)) // "cha" + missing byte
      yield* aChat.sendTo(b, bytes("first"))
      yield* rawA.sendTo(b, Uint8Array.of(4, 0x63, 0x68, 0x61, 0x72, 1)) // "char": unknown
      yield* rawA.sendTo(b, Uint8Array.of(3, 0x63, 0x68, 0x61, 1)) // "cha": unknown
      yield* aChat.sendTo(b, bytes("second"))
      expect(yield* Fiber.join(got)).toEqual(["a:first", "a:second"])
      expect(muxB.stats.droppedMalformed).toBe(4)
      expect(muxB.stats.droppedUnknownChannel).toBe(2)
      expect(muxB.stats.delivered).toBe(2)
    }))

  it.scoped("a header exactly filling the frame is an empty payload", () =>
    Effect.gen(function*() {
      const { mesh, muxB } = yield* threeNamed()
      const bChat = yield* muxB.channel("chat")
      const got = yield* collectText(bChat.incoming, 1)
      yield* mesh.seam("a").sendTo(b, Uint8Array.of(4, 0x63, 0x68, 0x61, 0x74))
      expect(yield* Fiber.join(got)).toEqual(["a:"])
    }))

  it.scoped("the budget is the delegate's minus 1 + name bytes, and PayloadTooLarge says so", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeNamed({ maxPayloadBytes: 1000 })
      const view = yield* muxA.channel("€uro") // 3 + 3 bytes
      expect(view.maxPayloadBytes).toEqual(Option.some(1000 - 7))
      yield* view.sendTo(b, new Uint8Array(993))
      expect(yield* Effect.flip(view.sendTo(b, new Uint8Array(994)))).toMatchObject({
        _tag: "PayloadTooLarge",
        payloadBytes: 994,
        budgetBytes: 993,
        reservedBytes: 7
      })
    }))

  it.scoped("an unknown budget stays unknown", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeNamed()
      expect((yield* muxA.channel("x")).maxPayloadBytes).toEqual(Option.none())
    }))

  it.scoped("nests over a by-tag Mux channel: routing, budgets and counters per layer", () =>
    Effect.gen(function*() {
      const mesh = yield* makeMesh(["a", "b", "c"], { maxPayloadBytes: 500 })
      const outerA = yield* Mux.byTag(mesh.seam("a"))
      const outerB = yield* Mux.byTag(mesh.seam("b"))
      const namedA = yield* Mux.byName(yield* outerA.channel(7))
      const namedB = yield* Mux.byName(yield* outerB.channel(7))
      const siblingB = yield* outerB.channel(8)
      const siblingA = yield* outerA.channel(8)
      const aLobby = yield* namedA.channel("lobby")
      const aRoom = yield* namedA.channel("room-1")
      const bLobby = yield* namedB.channel("lobby")
      const bRoom = yield* namedB.channel("room-1")
      // 500 - 1 (tag) - 1 - 5 ("lobby")
      expect(aLobby.maxPayloadBytes).toEqual(Option.some(493))
      expect(yield* Effect.flip(aLobby.sendTo(b, new Uint8Array(494)))).toMatchObject({
        _tag: "PayloadTooLarge",
        payloadBytes: 494,
        budgetBytes: 493,
        reservedBytes: 6
      })
      expect(yield* aLobby.peers.get).toEqual(new Set([a, b, c]))
      const gotLobby = yield* collectText(bLobby.incoming, 1)
      const gotRoom = yield* collectText(bRoom.incoming, 2)
      const gotSibling = yield* collectText(siblingB.incoming, 1)
      yield* aRoom.sendTo(b, bytes("r1"))
      yield* aLobby.broadcast(bytes("hello"))
      yield* siblingA.sendTo(b, bytes("plain"))
      yield* (yield* outerA.channel(7)).sendTo(b, Uint8Array.of(3, 0x78, 0x79, 0x7a)) // "xyz": unknown inside
      yield* aRoom.sendTo(b, bytes("r2"))
      expect(yield* Fiber.join(gotLobby)).toEqual(["a:hello"])
      expect(yield* Fiber.join(gotRoom)).toEqual(["a:r1", "a:r2"])
      expect(yield* Fiber.join(gotSibling)).toEqual(["a:plain"])
      expect(namedB.stats.droppedUnknownChannel).toBe(1)
      expect(outerB.stats.droppedUnknownChannel).toBe(0)
      // Tearing the outer channel tears the whole named subtree, and only it.
      yield* (yield* outerB.channel(7)).close(CloseReason.RemoteRequested())
      expect(yield* bLobby.state.get).toEqual(SeamState.Torn({ reason: CloseReason.RemoteRequested() }))
      expect(yield* bRoom.peers.get).toEqual(new Set([b]))
      expect(yield* siblingB.state.get).toEqual(SeamState.Woven())
    }))

  it.scoped("a delegate tear tears every named view", () =>
    Effect.gen(function*() {
      const { muxB } = yield* threeNamed()
      const x = yield* muxB.channel("x")
      yield* muxB.closeBase(CloseReason.Unreachable())
      expect(yield* x.state.get).toEqual(SeamState.Torn({ reason: CloseReason.Unreachable() }))
      expect(yield* muxB.baseState.get).toEqual(SeamState.Torn({ reason: CloseReason.Unreachable() }))
    }))
})
