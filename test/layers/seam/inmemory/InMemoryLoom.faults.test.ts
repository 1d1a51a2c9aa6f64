/**
 * InMemoryLoom fault injection: partitions, latency and jitter, seeded loss, duplication and
 * reordering, crashes and raw injection. All under TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, TestClock } from "effect"
import { InMemoryLoom } from "../../../../layers/seam/inmemory/InMemoryLoom.js"
import { DeliveryPolicy } from "../../../../services/seam/DeliveryPolicy.js"
import { PeerId } from "../../../../services/seam/PeerId.js"
import { CloseReason } from "../../../../services/seam/SeamState.js"
import { collect, firstBytes, isDone, sendBytes, sorted, weaveMesh, yieldTimes } from "./inmemoryHelpers.js"

const a = PeerId("a")
const b = PeerId("b")
const c = PeerId("c")

describe("InMemoryLoom partitions", () => {
  it.scoped("a two-way cut silently drops frames both ways and leaves peers untouched", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [sa, sb, sc] = yield* weaveMesh(loom, ["a", "b", "c"])
      yield* loom.faults.cut(a, b)
      yield* sendBytes(sa!, sb!, 1)
      yield* sendBytes(sb!, sa!, 2)
      yield* sendBytes(sa!, sc!, 3)
      const stats = yield* loom.stats
      expect([stats.sent, stats.delivered, stats.dropped.cut]).toEqual([3, 1, 2])
      expect(sorted(yield* sa!.peers.get)).toEqual(["a", "b", "c"])
      yield* loom.faults.heal(a, b)
      const atB = yield* collect(sb!, 1)
      yield* sendBytes(sa!, sb!, 4)
      // The frame sent during the cut is gone for good: the first one b sees is the later one.
      expect(firstBytes(yield* Fiber.join(atB))).toEqual([4])
    }))

  it.scoped("a one-way cut drops only its direction", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [sa, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.cutOneWay(a, b)
      const atA = yield* collect(sa!, 1)
      yield* sendBytes(sa!, sb!, 1)
      yield* sendBytes(sb!, sa!, 2)
      expect(firstBytes(yield* Fiber.join(atA))).toEqual([2])
      expect((yield* loom.stats).dropped.cut).toBe(1)
    }))

  it.scoped("isolate cuts every link of a peer until heal(peer)", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [sa, sb, sc] = yield* weaveMesh(loom, ["a", "b", "c"])
      yield* loom.faults.isolate(b)
      yield* sendBytes(sa!, sb!, 1)
      yield* sendBytes(sb!, sa!, 2)
      yield* sendBytes(sb!, sc!, 3)
      yield* sendBytes(sc!, sb!, 4)
      yield* sendBytes(sa!, sc!, 5)
      expect((yield* loom.stats).dropped.cut).toBe(4)
      yield* loom.faults.heal(b)
      const atA = yield* collect(sa!, 1)
      yield* sendBytes(sb!, sa!, 6)
      expect(firstBytes(yield* Fiber.join(atA))).toEqual([6])
    }))

  it.scoped("heal(a, b) lifts only that pair's cuts and heal() lifts everything", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [sa, sb, sc] = yield* weaveMesh(loom, ["a", "b", "c"])
      yield* loom.faults.cut(a, b)
      yield* loom.faults.cutOneWay(b, c)
      yield* loom.faults.isolate(c)
      yield* loom.faults.heal(a, b)
      yield* sendBytes(sa!, sb!, 1) // healed
      yield* sendBytes(sb!, sc!, 2) // still cut one way and isolated
      yield* sendBytes(sa!, sc!, 3) // isolated
      expect((yield* loom.stats).dropped.cut).toBe(2)
      yield* loom.faults.heal()
      yield* sendBytes(sb!, sc!, 4)
      yield* sendBytes(sa!, sc!, 5)
      const stats = yield* loom.stats
      expect([stats.delivered, stats.dropped.cut]).toEqual([3, 2])
    }))
})

describe("InMemoryLoom latency", () => {
  it.scoped("latency delays delivery by exactly the configured time", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ trace: true })
      const [sa, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ latencyMs: 50 })
      const got = yield* collect(sb!, 1)
      yield* sendBytes(sa!, sb!, 1)
      expect(yield* loom.pendingDeliveries).toBe(1)
      yield* TestClock.adjust(49)
      yield* yieldTimes(20)
      expect(yield* isDone(got)).toBe(false)
      yield* TestClock.adjust(1)
      expect(firstBytes(yield* Fiber.join(got))).toEqual([1])
      expect((yield* loom.trace).entries.map((e) => e.at)).toEqual([50])
    }))

  it.scoped("a link's own latency overrides the default", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ trace: true })
      const [sa, sb, sc] = yield* weaveMesh(loom, ["a", "b", "c"])
      yield* loom.faults.setConditions({ latencyMs: 100 })
      yield* loom.faults.setLinkConditions(a, b, { latencyMs: 10 })
      yield* sendBytes(sa!, sc!, 1)
      yield* sendBytes(sb!, sa!, 2)
      yield* sendBytes(sa!, sb!, 3)
      yield* TestClock.adjust(100)
      yield* yieldTimes(5)
      const entries = (yield* loom.trace).entries.map((e) => [e.from, e.to, e.at])
      expect(entries).toEqual([["a", "b", 10], ["a", "c", 100], ["b", "a", 100]])
    }))

  it.scoped("lowering the latency never lets a later frame overtake an earlier one on its link", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ trace: true })
      const [sa, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ latencyMs: 50 })
      yield* sendBytes(sa!, sb!, 1)
      yield* loom.faults.setConditions({ latencyMs: 0 })
      yield* sendBytes(sa!, sb!, 2)
      expect((yield* loom.stats).delivered).toBe(0)
      const got = yield* collect(sb!, 2)
      yield* TestClock.adjust(50)
      expect(firstBytes(yield* Fiber.join(got))).toEqual([1, 2])
      expect((yield* loom.trace).entries.map((e) => e.at)).toEqual([50, 50])
    }))

  it.scoped("jitter spreads each frame's delay over [latency, latency + jitter] and keeps per-link order", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ seed: 3, trace: true })
      const [sa, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ latencyMs: 10, jitterMs: 20 })
      const got = yield* collect(sb!, 100)
      for (let k = 0; k < 100; k++) {
        yield* sendBytes(sa!, sb!, k)
        yield* TestClock.adjust(1)
      }
      yield* TestClock.adjust(30)
      expect(firstBytes(yield* Fiber.join(got))).toEqual(Array.from({ length: 100 }, (_, k) => k))
      // Frame k (sequence k + 1) was sent at time k.
      const delays = (yield* loom.trace).entries.map((e) => e.at - (e.sequence - 1))
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(10)
      expect(Math.max(...delays)).toBeLessThanOrEqual(30)
      expect(new Set(delays).size).toBeGreaterThan(5)
    }))
})

describe("InMemoryLoom random faults", () => {
  it.scoped("drop probability loses a seeded share of frames and keeps the rest in order", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ seed: 42, policy: DeliveryPolicy.reliable(2000) })
      const [sa, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ dropProbability: 0.3 })
      yield* sendBytes(sa!, sb!, ...Array.from({ length: 1000 }, (_, k) => k % 256))
      const stats = yield* loom.stats
      expect(stats.dropped.random).toBeGreaterThan(230)
      expect(stats.dropped.random).toBeLessThan(370)
      expect(stats.delivered).toBe(1000 - stats.dropped.random)
      const frames = yield* Fiber.join(yield* collect(sb!, stats.delivered))
      const unwrapped: Array<number> = []
      let base = 0
      for (const byte of firstBytes(frames)) {
        if (unwrapped.length > 0 && byte! + base < unwrapped.at(-1)!) base += 256
        unwrapped.push(byte! + base)
      }
      for (let i = 1; i < unwrapped.length; i++) expect(unwrapped[i]!).toBeGreaterThan(unwrapped[i - 1]!)
      // Same seed, same losses.
      const again = yield* Effect.scoped(Effect.gen(function*() {
        const loom2 = yield* InMemoryLoom.make({ seed: 42, policy: DeliveryPolicy.reliable(2000) })
        const [ta, tb] = yield* weaveMesh(loom2, ["a", "b"])
        yield* loom2.faults.setConditions({ dropProbability: 0.3 })
        yield* sendBytes(ta!, tb!, ...Array.from({ length: 1000 }, (_, k) => k % 256))
        return (yield* loom2.stats).dropped.random
      }))
      expect(again).toBe(stats.dropped.random)
    }))

  it.scoped("duplicate probability delivers a frame twice, right after the original", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ seed: 1 })
      const [sa, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ duplicateProbability: 1 })
      yield* sendBytes(sa!, sb!, 1, 2, 3)
      expect(firstBytes(yield* Fiber.join(yield* collect(sb!, 6)))).toEqual([1, 1, 2, 2, 3, 3])
      const stats = yield* loom.stats
      expect([stats.sent, stats.duplicated, stats.delivered]).toEqual([3, 3, 6])
    }))

  it.scoped("under Reliable a delayed duplicate landing on a full link is queued, not lost", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ seed: 1, policy: DeliveryPolicy.reliable(1) })
      const [sa, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ latencyMs: 10, duplicateProbability: 1 })
      yield* sendBytes(sa!, sb!, 1)
      yield* TestClock.adjust(10)
      yield* yieldTimes(10)
      const stats = yield* loom.stats
      expect([stats.delivered, stats.dropped.overflow]).toEqual([2, 0])
      expect(firstBytes(yield* Fiber.join(yield* collect(sb!, 2)))).toEqual([1, 1])
    }))

  it.scoped("reordering holds frames back so that later frames overtake them", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ seed: 5 })
      const [sa, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ reorderProbability: 0.2, reorderDelayMs: 20 })
      const got = yield* collect(sb!, 100)
      for (let k = 0; k < 100; k++) {
        yield* sendBytes(sa!, sb!, k)
        yield* TestClock.adjust(1)
      }
      yield* TestClock.adjust(20)
      const order = firstBytes(yield* Fiber.join(got))
      const reordered = (yield* loom.stats).reordered
      expect(reordered).toBeGreaterThan(5)
      expect(reordered).toBeLessThan(40)
      expect([...order].sort((x, y) => x! - y!)).toEqual(Array.from({ length: 100 }, (_, k) => k))
      expect(order).not.toEqual(Array.from({ length: 100 }, (_, k) => k))
    }))

  it.scoped("invalid conditions are defects", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const exit = yield* Effect.exit(loom.faults.setConditions({ dropProbability: 1.5 }))
      expect(exit._tag).toBe("Failure")
      const negative = yield* Effect.exit(loom.faults.setLinkConditions(a, b, { latencyMs: -1 }))
      expect(negative._tag).toBe("Failure")
    }))
})

describe("InMemoryLoom crashes and injection", () => {
  it.scoped("tear crashes one peer's seam with the given reason and the others drop it", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [sa, sb, sc] = yield* weaveMesh(loom, ["a", "b", "c"])
      const cause = new Error("power cut")
      expect(yield* loom.faults.tear(b, CloseReason.Error({ cause }))).toBe(true)
      expect(yield* sb!.state.get).toEqual({ _tag: "Torn", reason: CloseReason.Error({ cause }) })
      expect(sorted(yield* sb!.peers.get)).toEqual(["b"])
      expect(sorted(yield* sa!.peers.get)).toEqual(["a", "c"])
      expect(sorted(yield* sc!.peers.get)).toEqual(["a", "c"])
      expect(yield* loom.faults.tear(b)).toBe(false)
      expect(yield* loom.faults.tear(PeerId("nobody"))).toBe(false)
    }))

  it.scoped("frames in flight to a peer that tears are dropped and counted", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const [sa] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.setConditions({ latencyMs: 10 })
      yield* sa!.sendTo(b, Uint8Array.of(1))
      yield* loom.faults.tear(b)
      yield* TestClock.adjust(10)
      yield* yieldTimes(5)
      const stats = yield* loom.stats
      expect([stats.delivered, stats.dropped.torn]).toEqual([0, 1])
      expect(yield* loom.pendingDeliveries).toBe(0)
    }))

  it.scoped("inject delivers raw bytes stamped as any sender, bypassing partitions and the budget", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ maxPayloadBytes: 4 })
      const [, sb] = yield* weaveMesh(loom, ["a", "b"])
      yield* loom.faults.isolate(b)
      yield* loom.faults.setConditions({ latencyMs: 100 })
      const got = yield* collect(sb!, 1)
      yield* loom.faults.inject(b, PeerId("ghost"), new Uint8Array(10).fill(7))
      const [frame] = yield* Fiber.join(got)
      expect([frame!.sender, frame!.payloadSize, frame!.byteAt(9)]).toEqual(["ghost", 10, 7])
      expect(yield* Clock.currentTimeMillis).toBe(0)
      expect((yield* loom.stats).injected).toBe(1)
      const absent = yield* Effect.flip(loom.faults.inject(c, a, Uint8Array.of(1)))
      expect(absent._tag).toBe("PeerNotConnected")
    }))
})
