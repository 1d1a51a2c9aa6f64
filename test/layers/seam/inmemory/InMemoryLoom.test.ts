/**
 * InMemoryLoom: weaving rules, the synchronous hot path, the three delivery policies and seeded
 * determinism. Faults are in InMemoryLoom.faults.test.ts; the generic Seam behaviour is covered by
 * the conformance suite (test/conformance/inmemory.test.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Scope, TestClock, TestContext } from "effect"
import { InMemoryLoom } from "../../../../layers/seam/inmemory/InMemoryLoom.js"
import { DeliveryPolicy } from "../../../../services/seam/DeliveryPolicy.js"
import { Loom } from "../../../../services/seam/Loom.js"
import { PeerId } from "../../../../services/seam/PeerId.js"
import { FrameOverflow } from "../../../../services/seam/SeamErrors.js"
import { CloseReason } from "../../../../services/seam/SeamState.js"
import { collect, firstBytes, isDone, sendBytes, sorted, weaveMesh, yieldTimes } from "./inmemoryHelpers.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("InMemoryLoom weaving", () => {
  it.scoped("host and join weave one mesh in which every seam sees every live peer", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [h, a, b] = yield* weaveMesh(loom, ["h", "a", "b"])
      expect([h!.selfId, a!.selfId, b!.selfId]).toEqual(["h", "a", "b"])
      for (const seam of [h!, a!, b!]) expect(sorted(yield* seam.peers.get)).toEqual(["a", "b", "h"])
      expect(yield* loom.livePeers).toEqual(["h", "a", "b"])
      expect((yield* a!.state.get)._tag).toBe("Woven")
    }))

  it.effect("ids minted without a peerKey are UUIDs drawn from the seeded Random", () =>
    Effect.gen(function*() {
      const mint = (seed: number) =>
        Effect.scoped(Effect.gen(function*() {
          const loom = yield* InMemoryLoom.make({ seed })
          const h = yield* loom.host({ sessionName: "s" })
          const j = yield* loom.join({ sessionName: "s" })
          return [h.selfId, j.selfId]
        }))
      const first = yield* mint(7)
      expect(first[0]).toMatch(UUID)
      expect(first[0]).not.toBe(first[1])
      expect(yield* mint(7)).toEqual(first)
      expect(yield* mint(8)).not.toEqual(first)
    }))

  it.scoped("a second concurrent host is refused", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      yield* loom.host({ sessionName: "s", peerKey: "h" })
      const same = yield* Effect.flip(loom.host({ sessionName: "s", peerKey: "h2" }))
      expect(same._tag).toBe("WeaveFailed")
      expect(same.reason).toContain("already hosted")
      const other = yield* Effect.flip(loom.host({ sessionName: "t" }))
      expect(other._tag).toBe("WeaveFailed")
    }))

  it.scoped("re-hosting after the host tore is allowed and the joiners stay", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [h, a] = yield* weaveMesh(loom, ["h", "a"])
      yield* h!.close()
      const h2 = yield* loom.host({ sessionName: "s", peerKey: "h2" })
      expect(sorted(yield* a!.peers.get)).toEqual(["a", "h2"])
      expect(sorted(yield* h2.peers.get)).toEqual(["a", "h2"])
      const got = yield* collect(a!, 1)
      yield* sendBytes(h2, a!, 5)
      expect(firstBytes(yield* Fiber.join(got))).toEqual([5])
    }))

  it.scoped("join is refused when no session was hosted or the name differs", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const never = yield* Effect.flip(loom.join({ sessionName: "s" }))
      expect(never.reason).toContain("no session has been hosted")
      yield* loom.host({ sessionName: "s" })
      const wrong = yield* Effect.flip(loom.join({ sessionName: "t" }))
      expect(wrong.reason).toContain(`no session named "t"`)
    }))

  it.scoped("join is refused when the room is full, counting the host, and admitted again after a leave", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [, a] = yield* weaveMesh(loom, ["h", "a"], 2)
      const full = yield* Effect.flip(loom.join({ sessionName: "s", peerKey: "b" }))
      expect(full.reason).toContain("full (2 of 2 peers)")
      yield* a!.close()
      const b = yield* loom.join({ sessionName: "s", peerKey: "b" })
      expect(sorted(yield* b.peers.get)).toEqual(["b", "h"])
    }))

  it.scoped("the default room holds six peers including the host", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      yield* loom.host({ sessionName: "s" })
      for (let i = 0; i < 5; i++) yield* loom.join({ sessionName: "s" })
      expect((yield* loom.livePeers).length).toBe(6)
      expect((yield* Effect.flip(loom.join({ sessionName: "s" })))._tag).toBe("WeaveFailed")
    }))

  it.scoped("a room key set by the host must be presented by joiners", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      yield* loom.host({ sessionName: "s", roomKey: "k" })
      expect((yield* Effect.flip(loom.join({ sessionName: "s" }))).reason).toContain("room key")
      expect((yield* Effect.flip(loom.join({ sessionName: "s", roomKey: "x" }))).reason).toContain("room key")
      yield* loom.join({ sessionName: "s", roomKey: "k" })
      expect((yield* loom.livePeers).length).toBe(2)
    }))

  it.scoped("a live peerKey is refused; after a crash the same key re-joins as a fresh seam", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [h, a] = yield* weaveMesh(loom, ["h", "a"], 3)
      const dup = yield* Effect.flip(loom.join({ sessionName: "s", peerKey: "a" }))
      expect(dup.reason).toContain("already live")
      expect((yield* Effect.flip(loom.host({ sessionName: "s", peerKey: "" })))._tag).toBe("WeaveFailed")
      const oldIncoming = yield* collect(a!, 1)
      expect(yield* loom.faults.tear(PeerId("a"))).toBe(true)
      expect((yield* Fiber.join(oldIncoming)).length).toBe(0)
      const a2 = yield* loom.join({ sessionName: "s", peerKey: "a" })
      expect((yield* a2.state.get)._tag).toBe("Woven")
      expect((yield* a!.state.get)._tag).toBe("Torn")
      expect(sorted(yield* h!.peers.get)).toEqual(["a", "h"])
      const got = yield* collect(a2, 1)
      yield* sendBytes(h!, a2, 9)
      expect(firstBytes(yield* Fiber.join(got))).toEqual([9])
    }))

  it.scoped("frames in flight to a crashed peer never reach its next incarnation", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [h] = yield* weaveMesh(loom, ["h", "a"])
      yield* loom.faults.setConditions({ latencyMs: 10 })
      yield* h!.sendTo(PeerId("a"), Uint8Array.of(1))
      yield* loom.faults.tear(PeerId("a"))
      const a2 = yield* loom.join({ sessionName: "s", peerKey: "a" })
      const got = yield* collect(a2, 1)
      yield* TestClock.adjust(10)
      yield* loom.faults.resetConditions
      yield* sendBytes(h!, a2, 2)
      expect(firstBytes(yield* Fiber.join(got))).toEqual([2])
      expect((yield* loom.stats).dropped.torn).toBe(1)
    }))

  it.scoped("closing a seam's scope closes it with Normal and the others drop it", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const h = yield* loom.host({ sessionName: "s", peerKey: "h" })
      const scope = yield* Scope.make()
      const a = yield* loom.join({ sessionName: "s", peerKey: "a" }).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      expect(yield* a.state.get).toEqual({ _tag: "Torn", reason: CloseReason.Normal() })
      expect(sorted(yield* h.peers.get)).toEqual(["h"])
    }))

  it.scoped("closing the loom's scope tears every live seam with Unreachable and refuses new weaves", () =>
    Effect.gen(function*() {
      const loomScope = yield* Scope.make()
      const loom = yield* InMemoryLoom.make().pipe(Scope.extend(loomScope))
      const [h] = yield* weaveMesh(loom, ["h", "a"])
      yield* Scope.close(loomScope, Exit.void)
      const state = yield* h!.state.get
      expect(state._tag === "Torn" ? state.reason._tag : state._tag).toBe("Unreachable")
      expect((yield* Effect.flip(loom.host({ sessionName: "s" }))).reason).toContain("closed")
    }))

  it.scoped("layer provides Loom and InMemoryLoom backed by the same loom", () =>
    Effect.gen(function*() {
      const loom = yield* Loom
      const same = yield* InMemoryLoom
      const h = yield* loom.host({ sessionName: "s", peerKey: "h" })
      expect(yield* same.livePeers).toEqual([h.selfId])
    }).pipe(Effect.provide(InMemoryLoom.layer({ seed: 1 }))))
})

describe("InMemoryLoom hot path", () => {
  it.scoped("a healthy link hands a frame to the receiver synchronously, without the scheduler", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [a, b] = yield* weaveMesh(loom, ["a", "b"])
      yield* sendBytes(a!, b!, 1, 2, 3)
      // No yield, no clock: the frames are already queued.
      const stats = yield* loom.stats
      expect([stats.sent, stats.delivered]).toEqual([3, 3])
      expect(yield* loom.pendingDeliveries).toBe(0)
      expect(firstBytes(yield* Fiber.join(yield* collect(b!, 3)))).toEqual([1, 2, 3])
    }))

  it.scoped("a broadcast over the budget is dropped and counted once", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ maxPayloadBytes: 4 })
      const [a] = yield* weaveMesh(loom, ["a", "b", "c"])
      yield* a!.broadcast(new Uint8Array(5))
      yield* a!.broadcast(new Uint8Array(4))
      const stats = yield* loom.stats
      expect([stats.dropped.budget, stats.sent, stats.delivered]).toEqual([1, 2, 2])
    }))
})

describe("InMemoryLoom delivery policies", () => {
  it.scoped("Reliable suspends a sender on a full link and resumes it when the receiver drains", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.reliable(2) })
      const [a, b] = yield* weaveMesh(loom, ["a", "b"])
      yield* sendBytes(a!, b!, 1, 2)
      const third = yield* Effect.fork(sendBytes(a!, b!, 3))
      yield* yieldTimes(20)
      expect(yield* isDone(third)).toBe(false)
      expect((yield* loom.stats).delivered).toBe(2)
      const got = yield* collect(b!, 3)
      yield* Fiber.join(third)
      expect(firstBytes(yield* Fiber.join(got))).toEqual([1, 2, 3])
      expect((yield* loom.stats).dropped).toEqual({ cut: 0, random: 0, overflow: 0, budget: 0, torn: 0 })
    }))

  it.scoped("Reliable counts frames still in flight against the link's capacity", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.reliable(2) })
      const [a, b] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ latencyMs: 10 })
      yield* sendBytes(a!, b!, 1, 2)
      const third = yield* Effect.fork(sendBytes(a!, b!, 3))
      yield* yieldTimes(20)
      expect(yield* isDone(third)).toBe(false)
      yield* TestClock.adjust(10)
      yield* yieldTimes(20)
      expect(yield* isDone(third)).toBe(false)
      const got = yield* collect(b!, 3)
      yield* Fiber.join(third)
      yield* TestClock.adjust(10)
      expect(firstBytes(yield* Fiber.join(got))).toEqual([1, 2, 3])
      expect(yield* Clock.currentTimeMillis).toBe(20)
    }))

  it.scoped("Lossy drops the oldest frame of the full link only, and counts it", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(2) })
      const [a, b, c] = yield* weaveMesh(loom, ["a", "b", "c"])
      yield* sendBytes(c!, b!, 9)
      yield* sendBytes(a!, b!, 1, 2, 3, 4, 5)
      const stats = yield* loom.stats
      expect([stats.dropped.overflow, stats.delivered]).toEqual([3, 6])
      const frames = yield* Fiber.join(yield* collect(b!, 3))
      expect(frames.map((s) => [s.sender, s.payload[0]])).toEqual([["c", 9], ["a", 4], ["a", 5]])
    }))

  it.scoped("Strict tears the receiver with FrameOverflow when a link overflows", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.strict(2) })
      const [a, b] = yield* weaveMesh(loom, ["a", "b"])
      yield* sendBytes(a!, b!, 1, 2, 3)
      const state = yield* b!.state.get
      const reason = state._tag === "Torn" ? state.reason : undefined
      const cause = reason?._tag === "Error" ? reason.cause : undefined
      expect(cause).toBeInstanceOf(FrameOverflow)
      expect(cause).toEqual(new FrameOverflow({ from: PeerId("a"), to: PeerId("b"), capacity: 2 }))
      expect((yield* a!.state.get)._tag).toBe("Woven")
      expect(sorted(yield* a!.peers.get)).toEqual(["a"])
      expect((yield* loom.stats).dropped.overflow).toBe(1)
      expect((yield* Effect.flip(a!.sendTo(PeerId("b"), Uint8Array.of(4))))._tag).toBe("PeerNotConnected")
    }))
})

describe("InMemoryLoom determinism", () => {
  /** One chatty three-peer run under every random fault, on a fresh TestClock. */
  const run = (seed: number) =>
    Effect.scoped(Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ seed, trace: true, policy: DeliveryPolicy.reliable(10_000) })
      const [a, b, c] = yield* weaveMesh(loom, ["a", "b", "c"])
      yield* loom.faults.setConditions({
        latencyMs: 3,
        jitterMs: 7,
        dropProbability: 0.1,
        duplicateProbability: 0.1,
        reorderProbability: 0.1,
        reorderDelayMs: 12
      })
      for (let t = 0; t < 100; t++) {
        yield* sendBytes(a!, b!, t)
        yield* sendBytes(b!, c!, t)
        yield* c!.broadcast(Uint8Array.of(t))
        yield* TestClock.adjust(1)
      }
      yield* TestClock.adjust(50)
      return { trace: yield* loom.trace, stats: yield* loom.stats }
    })).pipe(Effect.provide(TestContext.TestContext))

  it.effect("the same seed gives the identical delivery trace and another seed does not", () =>
    Effect.gen(function*() {
      const first = yield* run(2024)
      const again = yield* run(2024)
      const other = yield* run(2025)
      expect(first.stats.sent).toBe(400)
      expect(first.stats.dropped.random).toBeGreaterThan(0)
      expect(first.stats.duplicated).toBeGreaterThan(0)
      expect(first.stats.reordered).toBeGreaterThan(0)
      expect(first.trace.count).toBe(first.stats.delivered)
      expect(first.trace.count).toBe(400 - first.stats.dropped.random + first.stats.duplicated)
      expect(again.trace.entries).toEqual(first.trace.entries)
      expect(again.trace.hash).toBe(first.trace.hash)
      expect(again.stats).toEqual(first.stats)
      expect(other.trace.hash).not.toBe(first.trace.hash)
      expect(other.trace.entries).not.toEqual(first.trace.entries)
    }))

  it.scoped("tracing is off unless asked for", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [a, b] = yield* weaveMesh(loom, ["a", "b"])
      yield* sendBytes(a!, b!, 1)
      const trace = yield* loom.trace
      expect([trace.count, trace.entries.length]).toEqual([0, 0])
    }))

  it.scoped("a bounded trace keeps only the newest entries but counts and hashes all", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ trace: { limit: 3 } })
      const [a, b] = yield* weaveMesh(loom, ["a", "b"])
      yield* sendBytes(a!, b!, 1, 2, 3, 4, 5)
      const trace = yield* loom.trace
      expect(trace.count).toBe(5)
      expect(trace.entries.map((e) => e.sequence)).toEqual([3, 4, 5])
      expect(trace.entries[0]).toEqual({ at: 0, from: "a", to: "b", sequence: 3, size: 1 })
    }))
})
