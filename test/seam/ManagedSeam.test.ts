import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import { PeerId } from "../../services/seam/PeerId.js"
import { CloseReason, SeamState } from "../../services/seam/SeamState.js"
import { ManagedSeam, Mux } from "../../src/seam/index.js"
import { bytes, collectText, makeMesh, settle } from "./fixtures.js"

const a = PeerId("a")
const b = PeerId("b")

describe("ManagedSeam", () => {
  it.scoped("before the first swap it is Weaving with peers {self}, no budget, and drops sends silently", () =>
    Effect.gen(function*() {
      const managed = yield* ManagedSeam.make(a)
      expect(managed.selfId).toBe(a)
      expect(yield* managed.peers.get).toEqual(new Set([a]))
      expect(yield* managed.state.get).toEqual(SeamState.Weaving())
      expect(managed.maxPayloadBytes).toEqual(Option.none())
      expect(yield* managed.current).toEqual(Option.none())
      yield* managed.sendTo(b, bytes("lost"))
      yield* managed.broadcast(bytes("lost too"))
      expect(managed.stats.droppedUnbacked).toBe(2)
    }))

  it.scoped("after a swap it follows the backing seam: peers, state, budget, both directions", () =>
    Effect.gen(function*() {
      const mesh = yield* makeMesh(["a", "b"], { maxPayloadBytes: 300 })
      const managed = yield* ManagedSeam.make(a)
      yield* managed.swap(mesh.seam("a"))
      expect(yield* managed.peers.get).toEqual(new Set([a, b]))
      expect(yield* managed.state.get).toEqual(SeamState.Woven())
      expect(managed.maxPayloadBytes).toEqual(Option.some(300))
      mesh.seam("a").setMaxPayloadBytes(Option.some(120))
      expect(managed.maxPayloadBytes).toEqual(Option.some(120))
      expect(yield* managed.current).toEqual(Option.some(mesh.seam("a")))
      const atB = yield* collectText(mesh.seam("b").incoming, 1)
      const atA = yield* collectText(managed.incoming, 1)
      yield* managed.sendTo(b, bytes("out"))
      yield* mesh.seam("b").sendTo(a, bytes("in"))
      expect(yield* Fiber.join(atB)).toEqual(["a:out"])
      expect(yield* Fiber.join(atA)).toEqual(["b:in"])
      // Errors of a live backing seam pass through.
      expect(yield* Effect.flip(managed.sendTo(b, new Uint8Array(121)))).toMatchObject({ _tag: "PayloadTooLarge" })
    }))

  it.scoped("no frame of the old seam is delivered after a frame of the new one", () =>
    Effect.gen(function*() {
      const old = yield* makeMesh(["a", "b"])
      const next = yield* makeMesh(["a", "b"])
      // A one-frame inbox and no collector yet: the old pump is stuck mid-stream when we swap.
      const managed = yield* ManagedSeam.make(a, { policy: DeliveryPolicy.reliable(1) })
      yield* managed.swap(old.seam("a"))
      const oldSends = yield* Effect.forEach([1, 2, 3, 4], (i) => old.seam("b").sendTo(a, bytes(`old${i}`)), {
        discard: true
      }).pipe(Effect.fork)
      yield* settle
      yield* managed.swap(next.seam("a"))
      const newSends = yield* Effect.forEach([1, 2, 3], (i) => next.seam("b").sendTo(a, bytes(`new${i}`)), {
        discard: true
      }).pipe(Effect.fork)
      yield* settle
      const got = yield* collectText(managed.incoming, 4)
      yield* Fiber.join(newSends)
      const frames = yield* Fiber.join(got)
      // What the old pump had handed over before it was stopped comes first; nothing old after that.
      expect(frames).toEqual(["b:old1", "b:new1", "b:new2", "b:new3"])
      yield* Fiber.interrupt(oldSends)
      // The old seam's later frames are never pumped.
      expect(managed.stats.delivered).toBe(4)
    }))

  it.scoped("peers are republished on each swap and track later changes of the current seam only", () =>
    Effect.gen(function*() {
      const first = yield* makeMesh(["a", "b"])
      const second = yield* makeMesh(["a", "c"])
      const managed = yield* ManagedSeam.make(a)
      const seen = yield* managed.peers.changes.pipe(
        Stream.map((peers) => [...peers].sort().join(",")),
        Stream.take(5),
        Stream.runCollect,
        Effect.fork
      )
      yield* settle
      yield* managed.swap(first.seam("a"))
      yield* settle
      yield* first.join("d")
      yield* settle
      expect(yield* managed.peers.get).toEqual(new Set([a, b, PeerId("d")]))
      yield* managed.swap(second.seam("a"))
      yield* settle
      expect(yield* managed.peers.get).toEqual(new Set([a, PeerId("c")]))
      yield* first.join("e") // no longer current: ignored
      yield* settle
      expect(yield* managed.peers.get).toEqual(new Set([a, PeerId("c")]))
      yield* second.join("f")
      const history = Chunk.toReadonlyArray(yield* Fiber.join(seen))
      expect(history).toEqual(["a", "a,b", "a,b,d", "a,c", "a,c,f"])
    }))

  it.scoped("a backing tear makes it Weaving (not Torn), drops sends, and the next swap recovers", () =>
    Effect.gen(function*() {
      const first = yield* makeMesh(["a", "b"])
      const second = yield* makeMesh(["a", "b"])
      const managed = yield* ManagedSeam.make(a)
      yield* managed.swap(first.seam("a"))
      const got = yield* collectText(managed.incoming, 1)
      yield* first.seam("a").close(CloseReason.Unreachable())
      yield* settle
      expect(yield* managed.state.get).toEqual(SeamState.Weaving())
      expect(yield* managed.peers.get).toEqual(new Set([a]))
      yield* managed.sendTo(b, bytes("dropped"))
      yield* managed.broadcast(bytes("dropped"))
      expect(managed.stats.droppedBackingTorn).toBe(2)
      yield* managed.swap(second.seam("a"))
      expect(yield* managed.state.get).toEqual(SeamState.Woven())
      yield* second.seam("b").sendTo(a, bytes("back"))
      // The same incoming stream carries on across the tear and the swap.
      expect(yield* Fiber.join(got)).toEqual(["b:back"])
    }))

  it.scoped("state changes: Weaving, Woven, Weaving on a backing tear, Woven again, Torn on close", () =>
    Effect.gen(function*() {
      const first = yield* makeMesh(["a", "b"])
      const second = yield* makeMesh(["a", "b"])
      const managed = yield* ManagedSeam.make(a)
      const states = yield* managed.state.changes.pipe(Stream.map((s) => s._tag), Stream.take(5), Stream.runCollect, Effect.fork)
      yield* settle
      yield* managed.swap(first.seam("a"))
      yield* settle
      yield* first.seam("a").close()
      yield* settle
      yield* managed.swap(second.seam("a"))
      yield* settle
      yield* managed.close()
      expect(Chunk.toReadonlyArray(yield* Fiber.join(states))).toEqual(["Weaving", "Woven", "Weaving", "Woven", "Torn"])
    }))

  it.scoped("swap refuses a seam of another peer", () =>
    Effect.gen(function*() {
      const mesh = yield* makeMesh(["a", "b"])
      const managed = yield* ManagedSeam.make(a)
      const error = yield* Effect.flip(managed.swap(mesh.seam("b")))
      expect(error).toMatchObject({ _tag: "SelfIdMismatch", expected: a, actual: b })
      expect(yield* managed.current).toEqual(Option.none())
      expect(managed.stats.swaps).toBe(0)
    }))

  it.scoped("swapping in the current seam again is a no-op", () =>
    Effect.gen(function*() {
      const mesh = yield* makeMesh(["a", "b"])
      const managed = yield* ManagedSeam.make(a)
      yield* managed.swap(mesh.seam("a"))
      yield* managed.swap(mesh.seam("a"))
      expect(managed.stats.swaps).toBe(1)
      const got = yield* collectText(managed.incoming, 1)
      yield* mesh.seam("b").sendTo(a, bytes("still pumped"))
      expect(yield* Fiber.join(got)).toEqual(["b:still pumped"])
    }))

  it.scoped("close tears it for good but leaves the backing seam open (the caller owns it)", () =>
    Effect.gen(function*() {
      const mesh = yield* makeMesh(["a", "b"])
      const managed = yield* ManagedSeam.make(a)
      yield* managed.swap(mesh.seam("a"))
      const incoming = yield* Stream.runCollect(managed.incoming).pipe(Effect.fork)
      yield* managed.close(CloseReason.RemoteRequested())
      yield* managed.close(CloseReason.Unreachable())
      const torn = SeamState.Torn({ reason: CloseReason.RemoteRequested() })
      expect(yield* managed.state.get).toEqual(torn)
      expect(yield* managed.peers.get).toEqual(new Set([a]))
      expect((yield* Fiber.join(incoming)).length).toBe(0)
      expect(yield* Effect.flip(managed.sendTo(b, bytes("x")))).toMatchObject({ _tag: "SeamTorn" })
      expect(yield* Effect.flip(managed.broadcast(bytes("x")))).toMatchObject({ _tag: "SeamTorn" })
      expect(yield* Effect.flip(managed.swap(mesh.seam("a")))).toMatchObject({ _tag: "SeamTorn" })
      expect(yield* mesh.seam("a").state.get).toEqual(SeamState.Woven())
      // Nobody pumps the backing seam any more: what b sends now is not delivered anywhere visible.
      yield* mesh.seam("b").sendTo(a, bytes("after close"))
      yield* settle
      expect(managed.stats.delivered).toBe(0)
    }))

  it.effect("closing its scope closes it, not the backing seam", () =>
    Effect.gen(function*() {
      const meshScope = yield* Scope.make()
      const mesh = yield* makeMesh(["a", "b"]).pipe(Scope.extend(meshScope))
      const scope = yield* Scope.make()
      const managed = yield* ManagedSeam.make(a).pipe(Scope.extend(scope))
      yield* managed.swap(mesh.seam("a"))
      yield* Scope.close(scope, Exit.void)
      expect(yield* managed.state.get).toEqual(SeamState.Torn({ reason: CloseReason.Normal() }))
      expect(yield* mesh.seam("a").state.get).toEqual(SeamState.Woven())
      yield* Scope.close(meshScope, Exit.void)
    }))

  it.scoped("a mux over a managed seam keeps its channels across swaps", () =>
    Effect.gen(function*() {
      const first = yield* makeMesh(["a", "b"], { maxPayloadBytes: 64 })
      const second = yield* makeMesh(["a", "b"], { maxPayloadBytes: 32 })
      const managed = yield* ManagedSeam.make(a)
      const mux = yield* Mux.byTag(managed)
      const raft = yield* mux.channel(1)
      expect(raft.maxPayloadBytes).toEqual(Option.none())
      const got = yield* collectText(raft.incoming, 2)
      yield* managed.swap(first.seam("a"))
      expect(raft.maxPayloadBytes).toEqual(Option.some(63))
      yield* first.seam("b").sendTo(a, Uint8Array.of(1, 0x31))
      yield* settle
      yield* first.seam("a").close()
      yield* managed.swap(second.seam("a"))
      expect(raft.maxPayloadBytes).toEqual(Option.some(31))
      yield* second.seam("b").sendTo(a, Uint8Array.of(1, 0x32))
      expect(yield* Fiber.join(got)).toEqual(["b:1", "b:2"])
      expect(yield* raft.state.get).toEqual(SeamState.Woven())
    }))
})
