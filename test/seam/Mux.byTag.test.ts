import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { CloseReason, SeamState } from "../../services/seam/SeamState.js"
import { Mux } from "../../src/seam/index.js"
import { bytes, collectText, makeMesh, settle } from "./fixtures.js"

const a = PeerId("a")
const b = PeerId("b")
const c = PeerId("c")

/** A 3-peer mesh with a mux on every peer. */
const threeMuxes = (options: { maxPayloadBytes?: number } = {}) =>
  Effect.gen(function*() {
    const mesh = yield* makeMesh(["a", "b", "c"], options)
    const muxA = yield* Mux.byTag(mesh.seam("a"))
    const muxB = yield* Mux.byTag(mesh.seam("b"))
    const muxC = yield* Mux.byTag(mesh.seam("c"))
    return { mesh, muxA, muxB, muxC }
  })

const channels = (mux: Mux<number>, ...tags: Array<number>) => Effect.forEach(tags, (tag) => mux.channel(tag))

describe("Mux.byTag", () => {
  it.scoped("routes each frame to the channel of its tag, between three peers, for sendTo and broadcast", () =>
    Effect.gen(function*() {
      const { muxA, muxB, muxC } = yield* threeMuxes()
      const [a1, a2, a255] = yield* channels(muxA, 1, 2, 255)
      const [b1, b2, b255] = yield* channels(muxB, 1, 2, 255)
      const [c1, c2] = yield* channels(muxC, 1, 2)
      const gotB1 = yield* collectText(b1!.incoming, 2)
      const gotB2 = yield* collectText(b2!.incoming, 2)
      const gotB255 = yield* collectText(b255!.incoming, 1)
      const gotC1 = yield* collectText(c1!.incoming, 1)
      const gotC2 = yield* collectText(c2!.incoming, 1)
      yield* a1!.sendTo(b, bytes("one"))
      yield* a2!.sendTo(b, bytes("two"))
      yield* a1!.broadcast(bytes("all-one"))
      yield* a255!.sendTo(b, bytes("last"))
      yield* c2!.sendTo(b, bytes("from-c"))
      yield* b2!.sendTo(c, bytes("from-b"))
      expect(yield* Fiber.join(gotB1)).toEqual(["a:one", "a:all-one"])
      expect(yield* Fiber.join(gotB2)).toEqual(["a:two", "c:from-c"])
      expect(yield* Fiber.join(gotB255)).toEqual(["a:last"])
      expect(yield* Fiber.join(gotC1)).toEqual(["a:all-one"])
      expect(yield* Fiber.join(gotC2)).toEqual(["b:from-b"])
      expect(muxB.stats.delivered).toBe(5)
      expect(muxB.stats.droppedUnknownChannel).toBe(0)
    }))

  it.scoped("a received payload is a zero-copy view into the delegate's frame, past the tag", () =>
    Effect.gen(function*() {
      const { muxA, muxB } = yield* threeMuxes()
      const a1 = yield* muxA.channel(1)
      const b1 = yield* muxB.channel(1)
      const got = yield* b1.incoming.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* a1.sendTo(b, bytes("abc"))
      const [frame] = yield* Fiber.join(got)
      expect(frame!.decodeToString()).toBe("abc")
      // The delegate's frame was [1, a, b, c]; the view's payload starts one byte into it.
      expect(frame!.payload.byteOffset).toBe(1)
      expect(new Uint8Array(frame!.payload.buffer, 0, 1)[0]).toBe(1)
    }))

  it.scoped("a view reports the delegate's identity, peers and state", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeMuxes()
      const view = yield* muxA.channel(7)
      expect(view.selfId).toBe(a)
      expect(yield* view.peers.get).toEqual(new Set([a, b, c]))
      expect(yield* view.state.get).toEqual(SeamState.Woven())
    }))

  it.scoped("channel is idempotent: the same tag gives the same view object", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeMuxes()
      const first = yield* muxA.channel(3)
      expect(yield* muxA.channel(3)).toBe(first)
      expect(yield* muxA.channel(4)).not.toBe(first)
      // Concurrent first calls still agree on one view.
      const racing = yield* Effect.all([muxA.channel(9), muxA.channel(9), muxA.channel(9)], { concurrency: 3 })
      expect(racing[1]).toBe(racing[0])
      expect(racing[2]).toBe(racing[0])
    }))

  it.scoped("tags outside 0..255 fail with InvalidChannelTag", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeMuxes()
      for (const tag of [-1, 256, 1.5, Number.NaN, 1000]) {
        const error = yield* Effect.flip(muxA.channel(tag))
        expect(error._tag).toBe("InvalidChannelTag")
        expect(error.tag).toBe(tag)
      }
      expect((yield* muxA.channel(0)).selfId).toBe(a)
      expect((yield* muxA.channel(255)).selfId).toBe(a)
    }))

  it.scoped("frames for an unopened tag and empty frames are dropped and counted; later frames still arrive", () =>
    Effect.gen(function*() {
      const { mesh, muxA, muxB } = yield* threeMuxes()
      const a1 = yield* muxA.channel(1)
      const b1 = yield* muxB.channel(1)
      const got = yield* collectText(b1.incoming, 2)
      const rawA = mesh.seam("a")
      yield* rawA.sendTo(b, Uint8Array.of(9, 1, 2, 3))
      yield* rawA.sendTo(b, new Uint8Array(0))
      yield* a1.sendTo(b, bytes("still"))
      yield* rawA.sendTo(b, Uint8Array.of(200))
      yield* a1.sendTo(b, bytes("alive"))
      expect(yield* Fiber.join(got)).toEqual(["a:still", "a:alive"])
      expect(muxB.stats.droppedUnknownChannel).toBe(2)
      expect(muxB.stats.droppedMalformed).toBe(1)
      expect(muxB.stats.delivered).toBe(2)
    }))

  it.scoped("a frame of just the tag is an empty payload, delivered as such", () =>
    Effect.gen(function*() {
      const { muxA, muxB } = yield* threeMuxes()
      const a1 = yield* muxA.channel(1)
      const b1 = yield* muxB.channel(1)
      const got = yield* b1.incoming.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* a1.sendTo(b, new Uint8Array(0))
      const [frame] = yield* Fiber.join(got)
      expect(frame!.payloadSize).toBe(0)
      expect(frame!.sender).toBe(a)
    }))

  it.scoped("the budget is the delegate's minus one, and PayloadTooLarge carries the view's numbers", () =>
    Effect.gen(function*() {
      const { mesh, muxA } = yield* threeMuxes({ maxPayloadBytes: 1000 })
      const view = yield* muxA.channel(1)
      expect(view.maxPayloadBytes).toEqual(Option.some(999))
      yield* view.sendTo(b, new Uint8Array(999))
      const error = yield* Effect.flip(view.sendTo(b, new Uint8Array(1000)))
      expect(error).toMatchObject({ _tag: "PayloadTooLarge", payloadBytes: 1000, budgetBytes: 999, reservedBytes: 1 })
      // A reading, not a lease: the view follows the delegate's budget as it changes.
      mesh.seam("a").setMaxPayloadBytes(Option.some(100))
      expect(view.maxPayloadBytes).toEqual(Option.some(99))
      mesh.seam("a").setMaxPayloadBytes(Option.none())
      expect(view.maxPayloadBytes).toEqual(Option.none())
    }))

  it.scoped("an over-budget broadcast is dropped and counted, not raised", () =>
    Effect.gen(function*() {
      const { muxA, muxB } = yield* threeMuxes({ maxPayloadBytes: 10 })
      const a1 = yield* muxA.channel(1)
      const b1 = yield* muxB.channel(1)
      const got = yield* collectText(b1.incoming, 1)
      yield* a1.broadcast(new Uint8Array(10))
      yield* a1.broadcast(bytes("fits"))
      expect(yield* Fiber.join(got)).toEqual(["a:fits"])
      expect(muxA.stats.droppedOversizeBroadcast).toBe(1)
    }))

  it.scoped("delegate errors pass through a view", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeMuxes()
      const view = yield* muxA.channel(1)
      const error = yield* Effect.flip(view.sendTo(PeerId("nobody"), bytes("x")))
      expect(error).toMatchObject({ _tag: "PeerNotConnected", peer: "nobody" })
    }))

  it.scoped("closing one view tears only that view; its siblings and the delegate keep working", () =>
    Effect.gen(function*() {
      const { mesh, muxA, muxB } = yield* threeMuxes()
      const [a1, a2] = yield* channels(muxA, 1, 2)
      const [b1, b2] = yield* channels(muxB, 1, 2)
      const closedIncoming = yield* b1!.incoming.pipe(Stream.runCollect, Effect.fork)
      const sibling = yield* collectText(b2!.incoming, 1)
      yield* b1!.close(CloseReason.RemoteRequested())
      yield* b1!.close(CloseReason.Unreachable()) // idempotent: the first reason wins
      expect((yield* Fiber.join(closedIncoming)).length).toBe(0)
      expect(yield* b1!.state.get).toEqual(SeamState.Torn({ reason: CloseReason.RemoteRequested() }))
      expect(yield* b1!.peers.get).toEqual(new Set([b]))
      expect(yield* Effect.flip(b1!.sendTo(a, bytes("x")))).toMatchObject({ _tag: "SeamTorn" })
      expect(yield* Effect.flip(b1!.broadcast(bytes("x")))).toMatchObject({ _tag: "SeamTorn" })
      // Frames still addressed to the closed channel are dropped and counted.
      yield* a1!.sendTo(b, bytes("to-closed"))
      yield* a2!.sendTo(b, bytes("to-sibling"))
      expect(yield* Fiber.join(sibling)).toEqual(["a:to-sibling"])
      expect(muxB.stats.droppedClosed).toBe(1)
      expect(yield* b2!.state.get).toEqual(SeamState.Woven())
      expect(yield* b2!.peers.get).toEqual(new Set([a, b, c]))
      expect(yield* mesh.seam("b").state.get).toEqual(SeamState.Woven())
      // The same tag keeps giving the closed view.
      expect(yield* muxB.channel(1)).toBe(b1)
    }))

  it.scoped("a view's state and peers changes end in Torn and {self} when the view closes", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeMuxes()
      const view = yield* muxA.channel(1)
      const states = yield* view.state.changes.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      const peers = yield* view.peers.changes.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      yield* settle
      yield* view.close()
      expect([...(yield* Fiber.join(states))]).toEqual([SeamState.Woven(), SeamState.Torn({ reason: CloseReason.Normal() })])
      expect([...(yield* Fiber.join(peers))]).toEqual([new Set([a, b, c]), new Set([a])])
    }))

  it.scoped("a delegate tear tears every view with its reason and completes their incoming", () =>
    Effect.gen(function*() {
      const { muxA, muxB } = yield* threeMuxes()
      const [b1, b2] = yield* channels(muxB, 1, 2)
      const in1 = yield* b1!.incoming.pipe(Stream.runCollect, Effect.fork)
      const in2 = yield* b2!.incoming.pipe(Stream.runCollect, Effect.fork)
      yield* muxB.closeBase(CloseReason.Unreachable())
      expect((yield* Fiber.join(in1)).length).toBe(0)
      expect((yield* Fiber.join(in2)).length).toBe(0)
      const torn = SeamState.Torn({ reason: CloseReason.Unreachable() })
      expect(yield* b1!.state.get).toEqual(torn)
      expect(yield* b2!.state.get).toEqual(torn)
      expect(yield* b1!.peers.get).toEqual(new Set([b]))
      expect(yield* Effect.flip(b2!.sendTo(a, bytes("x")))).toMatchObject({ _tag: "SeamTorn", reason: CloseReason.Unreachable() })
      // Closing afterwards keeps the delegate's reason; a channel opened afterwards is born torn.
      yield* b1!.close(CloseReason.Normal())
      expect(yield* b1!.state.get).toEqual(torn)
      const late = yield* muxB.channel(3)
      expect(yield* late.state.get).toEqual(torn)
      expect((yield* Stream.runCollect(late.incoming)).length).toBe(0)
      // The other peers' views see b leave.
      const a1 = yield* muxA.channel(1)
      expect(yield* a1.peers.get).toEqual(new Set([a, c]))
    }))

  it.scoped("torn is checked before the budget", () =>
    Effect.gen(function*() {
      const { muxA } = yield* threeMuxes({ maxPayloadBytes: 10 })
      const view = yield* muxA.channel(1)
      yield* muxA.closeBase(CloseReason.Unreachable())
      // Whether or not the pump has noticed yet, an oversize send reports the tear.
      expect(yield* Effect.flip(view.sendTo(b, new Uint8Array(50)))).toMatchObject({ _tag: "SeamTorn" })
      expect(yield* Effect.flip(view.broadcast(new Uint8Array(50)))).toMatchObject({ _tag: "SeamTorn" })
    }))

  it.effect("closing the mux's scope tears its views but leaves the delegate open", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const mesh = yield* makeMesh(["a", "b"]).pipe(Scope.extend(outer))
      const muxScope = yield* Scope.make()
      const mux = yield* Mux.byTag(mesh.seam("a")).pipe(Scope.extend(muxScope))
      const view = yield* mux.channel(1)
      const incoming = yield* Stream.runCollect(view.incoming).pipe(Effect.fork)
      yield* Scope.close(muxScope, Exit.void)
      expect((yield* Fiber.join(incoming)).length).toBe(0)
      expect(yield* view.state.get).toEqual(SeamState.Torn({ reason: CloseReason.Normal() }))
      expect(yield* mesh.seam("a").state.get).toEqual(SeamState.Woven())
      yield* Scope.close(outer, Exit.void)
    }))

  it.scoped("Reliable channels lose nothing: a lagging collector stalls the pump until it catches up", () =>
    Effect.gen(function*() {
      const mesh = yield* makeMesh(["a", "b"])
      const muxA = yield* Mux.byTag(mesh.seam("a"))
      const muxB = yield* Mux.byTag(mesh.seam("b"), { policy: DeliveryPolicy.reliable(2) })
      const a1 = yield* muxA.channel(1)
      const b1 = yield* muxB.channel(1)
      const sends = yield* Effect.forEach([1, 2, 3, 4, 5, 6], (i) => a1.sendTo(b, bytes(`m${i}`)), { discard: true }).pipe(
        Effect.fork
      )
      yield* settle
      expect(muxB.stats.delivered).toBe(2) // the pump waits on the full channel; nothing dropped
      const got = yield* collectText(b1.incoming, 6)
      yield* Fiber.join(sends)
      expect(yield* Fiber.join(got)).toEqual(["a:m1", "a:m2", "a:m3", "a:m4", "a:m5", "a:m6"])
      expect(muxB.stats.droppedOverflow).toBe(0)
    }))

  it.scoped("a Strict channel that overflows tears only itself, with FrameOverflow", () =>
    Effect.gen(function*() {
      const { muxA, muxB } = yield* threeMuxes()
      const a1 = yield* muxA.channel(1)
      const a2 = yield* muxA.channel(2)
      const strict = yield* muxB.channel(1, { policy: DeliveryPolicy.strict(1) })
      const other = yield* muxB.channel(2)
      const got = yield* collectText(other.incoming, 1)
      yield* a1.sendTo(b, bytes("fits"))
      yield* a1.sendTo(b, bytes("overflows"))
      yield* a2.sendTo(b, bytes("unaffected"))
      expect(yield* Fiber.join(got)).toEqual(["a:unaffected"])
      const state = yield* strict.state.get
      expect(state._tag).toBe("Torn")
      expect(state).toMatchObject({ reason: { _tag: "Error", cause: { _tag: "FrameOverflow", from: a, to: b, capacity: 1 } } })
      expect(muxB.stats.droppedOverflow).toBe(1)
    }))

  it.scoped("a view is a Seam: a mux nests inside a mux channel", () =>
    Effect.gen(function*() {
      const { muxA, muxB } = yield* threeMuxes({ maxPayloadBytes: 100 })
      const innerA = yield* Mux.byTag(yield* muxA.channel(5))
      const innerB = yield* Mux.byTag(yield* muxB.channel(5))
      const deepA: SeamShape = yield* innerA.channel(6)
      const deepB = yield* innerB.channel(6)
      expect(deepA.maxPayloadBytes).toEqual(Option.some(98))
      expect(yield* Effect.flip(deepA.sendTo(b, new Uint8Array(99)))).toMatchObject({
        _tag: "PayloadTooLarge",
        payloadBytes: 99,
        budgetBytes: 98,
        reservedBytes: 1
      })
      const got = yield* collectText(deepB.incoming, 1)
      yield* deepA.sendTo(b, bytes("deep"))
      expect(yield* Fiber.join(got)).toEqual(["a:deep"])
    }))
})
