/**
 * The Seam conformance suite (docs/ARCHITECTURE.md, "Seams"): behaviour every Seam must show, whatever fabric
 * weaves it (the in-memory loom, channel views of a mux, WebSockets...).
 *
 * A fabric plugs in through a `FabricFactory`: it weaves `n` seams of one session, bound to the
 * test's scope. `timing` says how to wait: `"virtual"` fabrics run under `TestClock` (the suite
 * yields, then advances the clock); `"live"` fabrics run on real time (the suite polls with short
 * real sleeps). Every wait is bounded, so a broken fabric fails with a message instead of hanging.
 *
 * The fabric must use the default delivery policy (`Reliable`) or one with room for 10 frames
 * queued before collection; budgets are asked for as 1000 bytes.
 *
 * Usage:
 *
 * ```ts
 * seamConformance("InMemoryLoom", { timing: "virtual", make: (n, options) => ... })
 * ```
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Option, Stream } from "effect"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { CloseReason } from "../../services/seam/SeamState.js"
import type { SeamState } from "../../services/seam/SeamState.js"
import type { Swatch } from "../../services/seam/Swatch.js"
import type { FabricFactory, FabricOptions } from "./SeamFabric.js"
import { makeWaits } from "./SeamFabric.js"

export type { Fabric, FabricFactory, FabricOptions } from "./SeamFabric.js"

const bytes = (...values: ReadonlyArray<number>) => Uint8Array.from(values)
const frameOf = (k: number) => bytes(k >>> 8, k & 0xff)
const numberOf = (s: Swatch) => (s.payload[0]! << 8) | s.payload[1]!
const sameSet = (a: ReadonlySet<PeerId>, b: ReadonlySet<PeerId>) => a.size === b.size && [...a].every((x) => b.has(x))

/** Forks a collector of the first `n` frames of `seam`. */
const collect = (seam: SeamShape, n: number) =>
  Effect.fork(Stream.runCollect(Stream.take(seam.incoming, n)).pipe(Effect.map(Chunk.toReadonlyArray)))

const tornReason = (state: SeamState): CloseReason | undefined => state._tag === "Torn" ? state.reason : undefined

/**
 * Registers the Seam conformance suite for one fabric as a `describe` block named after it.
 */
export const seamConformance = (name: string, factory: FabricFactory): void => {
  const waits = makeWaits(factory.timing)
  const test = factory.timing === "live" ? it.scopedLive : it.scoped
  const reserved = factory.reservedBytes ?? 0
  const BASE_BUDGET = 1000
  const budget = BASE_BUDGET - reserved

  /** Weaves `n` seams and waits until every one is Woven and sees all the others. */
  const woven = (n: number, options: FabricOptions = {}) =>
    Effect.gen(function*() {
      const fabric = yield* factory.make(n, options)
      const ids = new Set(fabric.seams.map((s) => s.selfId))
      expect(ids.size).toBe(n)
      yield* waits.until(
        "every seam is Woven and sees the full mesh",
        Effect.map(
          Effect.forEach(fabric.seams, (s) => Effect.zipWith(s.peers.get, s.state.get, (p, st) => sameSet(p, ids) && st._tag === "Woven")),
          (all) => all.every(Boolean)
        )
      )
      const tear = (i: number) => fabric.tear?.(i) ?? fabric.seams[i]!.close(CloseReason.Unreachable())
      return { seams: fabric.seams, ids, tear }
    })

  const budgeted = (n: number) => woven(n, { maxPayloadBytes: BASE_BUDGET })

  const dropsPeer = (seam: SeamShape, gone: PeerId) =>
    waits.until(`${seam.selfId} drops ${gone}`, Effect.map(seam.peers.get, (p) => !p.has(gone)))

  describe(`Seam conformance: ${name}`, () => {
    // ---------------------------------------------------------------- peers

    test("peers contains selfId from the first reading on", () =>
      Effect.gen(function*() {
        const fabric = yield* factory.make(3, {})
        for (const seam of fabric.seams) expect((yield* seam.peers.get).has(seam.selfId)).toBe(true)
      }))

    test("peers keeps containing selfId through membership churn", () =>
      Effect.gen(function*() {
        const { seams, tear } = yield* woven(3)
        const [a, , c] = [seams[0]!, seams[1]!, seams[2]!]
        const observed = yield* Effect.fork(
          a.peers.changes.pipe(Stream.takeUntil((p) => !p.has(c.selfId)), Stream.runCollect)
        )
        yield* tear(2)
        const sets = Chunk.toReadonlyArray(yield* waits.join("a sees c leave", observed))
        expect(sets.length).toBeGreaterThan(0)
        for (const p of sets) expect(p.has(a.selfId)).toBe(true)
        expect(sets.at(-1)!.has(c.selfId)).toBe(false)
      }))

    test("peers eventually equals the set of every woven seam", () =>
      Effect.gen(function*() {
        const { ids, seams } = yield* woven(4)
        for (const seam of seams) expect([...(yield* seam.peers.get)].sort()).toEqual([...ids].sort())
      }))

    test("selfIds are distinct and stable", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(3)
        const before = seams.map((s) => s.selfId)
        expect(new Set(before).size).toBe(3)
        yield* seams[0]!.sendTo(seams[1]!.selfId, bytes(1))
        expect(seams.map((s) => s.selfId)).toEqual(before)
      }))

    test("peers collapses to exactly {selfId} when the seam tears", () =>
      Effect.gen(function*() {
        const { seams, tear } = yield* woven(3)
        const victim = seams[1]!
        yield* tear(1)
        yield* waits.until("the torn seam's peers collapse", Effect.map(victim.peers.get, (p) => p.size === 1))
        expect([...(yield* victim.peers.get)]).toEqual([victim.selfId])
      }))

    test("the other seams drop a torn peer", () =>
      Effect.gen(function*() {
        const { seams, tear } = yield* woven(3)
        const gone = seams[2]!.selfId
        yield* tear(2)
        yield* dropsPeer(seams[0]!, gone)
        yield* dropsPeer(seams[1]!, gone)
        expect([...(yield* seams[0]!.peers.get)].sort()).toEqual([seams[0]!.selfId, seams[1]!.selfId].sort())
      }))

    // ---------------------------------------------------------------- state and close

    test("state is Woven once the seam is woven", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        for (const seam of seams) expect((yield* seam.state.get)._tag).toBe("Woven")
      }))

    test("state becomes Torn with the close reason and stays latched", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const cause = new Error("boom")
        yield* seams[0]!.close(CloseReason.Error({ cause }))
        yield* waits.until("state is Torn", Effect.map(seams[0]!.state.get, (s) => s._tag === "Torn"))
        const reason = tornReason(yield* seams[0]!.state.get)
        expect(reason?._tag).toBe("Error")
        expect(reason?._tag === "Error" ? reason.cause : undefined).toBe(cause)
        yield* seams[0]!.close(CloseReason.Normal())
        yield* waits.pass(20)
        expect(tornReason(yield* seams[0]!.state.get)?._tag).toBe("Error")
      }))

    test("close is idempotent and the first reason wins", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        yield* seams[1]!.close(CloseReason.RemoteRequested())
        yield* seams[1]!.close(CloseReason.Normal())
        yield* seams[1]!.close(CloseReason.Unreachable())
        yield* waits.until("state is Torn", Effect.map(seams[1]!.state.get, (s) => s._tag === "Torn"))
        expect(tornReason(yield* seams[1]!.state.get)?._tag).toBe("RemoteRequested")
      }))

    test("closing one seam does not tear the others", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(3)
        yield* seams[0]!.close()
        yield* dropsPeer(seams[1]!, seams[0]!.selfId)
        expect((yield* seams[1]!.state.get)._tag).toBe("Woven")
        expect((yield* seams[2]!.state.get)._tag).toBe("Woven")
        const got = yield* collect(seams[2]!, 1)
        yield* seams[1]!.sendTo(seams[2]!.selfId, bytes(42))
        const frames = yield* waits.join("2 receives from 1", got)
        expect(frames.map((s) => [s.sender, s.payload[0]])).toEqual([[seams[1]!.selfId, 42]])
      }))

    // ---------------------------------------------------------------- incoming lifecycle

    test("incoming completes when the seam is closed", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const drained = yield* Effect.fork(Stream.runCount(seams[0]!.incoming))
        yield* seams[0]!.close()
        expect(yield* waits.join("incoming completes", drained)).toBe(0)
      }))

    test("incoming completes when the fabric tears the seam", () =>
      Effect.gen(function*() {
        const { seams, tear } = yield* woven(2)
        const drained = yield* Effect.fork(Stream.runCount(seams[1]!.incoming))
        yield* tear(1)
        expect(yield* waits.join("incoming completes", drained)).toBe(0)
      }))

    test("a second collector of incoming dies with IncomingAlreadyCollected", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        // The first collection has certainly started once it received a frame.
        const first = yield* collect(seams[0]!, 1)
        yield* seams[1]!.sendTo(seams[0]!.selfId, bytes(1))
        yield* waits.join("the first collector receives", first)
        const exit = yield* Effect.exit(Stream.runDrain(seams[0]!.incoming))
        expect(Exit.isFailure(exit)).toBe(true)
        const defect = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined
        expect((defect as { _tag?: string } | undefined)?._tag).toBe("IncomingAlreadyCollected")
      }))

    // ---------------------------------------------------------------- ordering and stamping

    test("1000 frames from one sender arrive in send order", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const got = yield* collect(seams[1]!, 1000)
        const sender = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 1000 }, (_, k) => k), (k) => seams[0]!.sendTo(seams[1]!.selfId, frameOf(k)), { discard: true })
        )
        yield* waits.join("the sender finishes", sender)
        const frames = yield* waits.join("1000 frames arrive", got)
        expect(frames.map(numberOf)).toEqual(Array.from({ length: 1000 }, (_, k) => k))
      }))

    test("frames of two concurrent senders keep each sender's order", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(3)
        const target = seams[0]!.selfId
        const got = yield* collect(seams[0]!, 400)
        const send = (seam: SeamShape) =>
          Effect.forEach(Array.from({ length: 200 }, (_, k) => k), (k) =>
            Effect.zipRight(seam.sendTo(target, frameOf(k)), k % 7 === 0 ? Effect.yieldNow() : Effect.void), { discard: true })
        const senders = yield* Effect.fork(Effect.all([send(seams[1]!), send(seams[2]!)], { concurrency: 2, discard: true }))
        yield* waits.join("both senders finish", senders)
        const frames = yield* waits.join("400 frames arrive", got)
        for (const from of [seams[1]!.selfId, seams[2]!.selfId]) {
          expect(frames.filter((s) => s.sender === from).map(numberOf)).toEqual(Array.from({ length: 200 }, (_, k) => k))
        }
      }))

    test("sequence numbers strictly increase across senders", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(3)
        const got = yield* collect(seams[0]!, 20)
        for (let k = 0; k < 10; k++) {
          yield* seams[1]!.sendTo(seams[0]!.selfId, frameOf(k))
          yield* seams[2]!.sendTo(seams[0]!.selfId, frameOf(k))
        }
        const sequences = (yield* waits.join("20 frames arrive", got)).map((s) => s.sequence)
        for (let i = 1; i < sequences.length; i++) expect(sequences[i]!).toBeGreaterThan(sequences[i - 1]!)
      }))

    test("each frame is stamped with the sending seam's selfId", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(3)
        const got = yield* collect(seams[0]!, 2)
        yield* seams[2]!.sendTo(seams[0]!.selfId, bytes(2))
        yield* waits.pass(5)
        yield* seams[1]!.sendTo(seams[0]!.selfId, bytes(1))
        const frames = yield* waits.join("2 frames arrive", got)
        const byByte = new Map(frames.map((s) => [s.payload[0], s.sender]))
        expect(byByte.get(1)).toBe(seams[1]!.selfId)
        expect(byByte.get(2)).toBe(seams[2]!.selfId)
      }))

    // ---------------------------------------------------------------- sendTo failures

    test("sendTo an unknown peer fails with PeerNotConnected", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const stranger = "no-such-peer" as PeerId
        const error = yield* Effect.flip(seams[0]!.sendTo(stranger, bytes(1)))
        expect(error._tag).toBe("PeerNotConnected")
        expect(error._tag === "PeerNotConnected" ? error.peer : undefined).toBe(stranger)
      }))

    test("sendTo a peer that left fails with PeerNotConnected", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(3)
        const gone = seams[2]!.selfId
        yield* seams[2]!.close()
        yield* dropsPeer(seams[0]!, gone)
        const error = yield* Effect.flip(seams[0]!.sendTo(gone, bytes(1)))
        expect(error._tag).toBe("PeerNotConnected")
      }))

    test("sendTo on a torn seam fails with SeamTorn, even to an unknown peer", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        yield* seams[0]!.close(CloseReason.Normal())
        const toPeer = yield* Effect.flip(seams[0]!.sendTo(seams[1]!.selfId, bytes(1)))
        expect(toPeer._tag).toBe("SeamTorn")
        const toStranger = yield* Effect.flip(seams[0]!.sendTo("no-such-peer" as PeerId, bytes(1)))
        expect(toStranger._tag).toBe("SeamTorn")
        expect(toStranger._tag === "SeamTorn" ? toStranger.reason._tag : undefined).toBe("Normal")
      }))

    test("sendTo to selfId is a defect", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const exit = yield* Effect.exit(seams[0]!.sendTo(seams[0]!.selfId, bytes(1)))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      }))

    // ---------------------------------------------------------------- budget

    test("maxPayloadBytes reports the requested budget minus the view's header", () =>
      Effect.gen(function*() {
        const { seams } = yield* budgeted(2)
        for (const seam of seams) expect(seam.maxPayloadBytes).toEqual(Option.some(budget))
      }))

    test("maxPayloadBytes reports the fabric's default when no budget is requested", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        for (const seam of seams) expect(seam.maxPayloadBytes).toEqual(factory.defaultBudget ?? Option.none())
      }))

    test("sendTo over the budget fails with PayloadTooLarge carrying the exact numbers", () =>
      Effect.gen(function*() {
        const { seams } = yield* budgeted(2)
        const error = yield* Effect.flip(seams[0]!.sendTo(seams[1]!.selfId, new Uint8Array(budget + 1)))
        expect(error._tag).toBe("PayloadTooLarge")
        if (error._tag !== "PayloadTooLarge") return
        expect({ payload: error.payloadBytes, budget: error.budgetBytes, reserved: error.reservedBytes })
          .toEqual({ payload: budget + 1, budget, reserved })
      }))

    test("the torn check comes before the budget check", () =>
      Effect.gen(function*() {
        const { seams } = yield* budgeted(2)
        yield* seams[0]!.close()
        const error = yield* Effect.flip(seams[0]!.sendTo(seams[1]!.selfId, new Uint8Array(budget + 1)))
        expect(error._tag).toBe("SeamTorn")
      }))

    test("a payload of exactly the budget is delivered", () =>
      Effect.gen(function*() {
        const { seams } = yield* budgeted(2)
        const got = yield* collect(seams[1]!, 1)
        const payload = new Uint8Array(budget).map((_, i) => i % 251)
        yield* seams[0]!.sendTo(seams[1]!.selfId, payload)
        const [frame] = yield* waits.join("the frame arrives", got)
        expect(frame!.payloadSize).toBe(budget)
        expect(frame!.toByteArray()).toEqual(payload)
      }))

    // ---------------------------------------------------------------- broadcast

    test("broadcast reaches every other peer and not the sender", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(3)
        const [a, b, c] = [seams[0]!, seams[1]!, seams[2]!]
        const atA = yield* collect(a, 1)
        const atB = yield* collect(b, 1)
        const atC = yield* collect(c, 1)
        yield* a.broadcast(bytes(7))
        expect((yield* waits.join("b gets the broadcast", atB)).map((s) => [s.sender, s.payload[0]])).toEqual([[a.selfId, 7]])
        expect((yield* waits.join("c gets the broadcast", atC)).map((s) => [s.sender, s.payload[0]])).toEqual([[a.selfId, 7]])
        // Had the sender received its own broadcast, it would come before this marker.
        yield* b.sendTo(a.selfId, bytes(99))
        expect((yield* waits.join("a gets the marker", atA)).map((s) => [s.sender, s.payload[0]])).toEqual([[b.selfId, 99]])
      }))

    test("an over-budget broadcast is dropped silently", () =>
      Effect.gen(function*() {
        const { seams } = yield* budgeted(2)
        const got = yield* collect(seams[1]!, 1)
        yield* seams[0]!.broadcast(new Uint8Array(budget + 1))
        yield* seams[0]!.broadcast(bytes(5))
        const frames = yield* waits.join("the small broadcast arrives", got)
        expect(frames.map((s) => s.payloadSize)).toEqual([1])
      }))

    test("broadcast on a torn seam fails with SeamTorn", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        yield* seams[0]!.close(CloseReason.RemoteRequested())
        const error = yield* Effect.flip(seams[0]!.broadcast(bytes(1)))
        expect(error._tag).toBe("SeamTorn")
        expect(error.reason._tag).toBe("RemoteRequested")
      }))

    // ---------------------------------------------------------------- payloads

    test("a zero-length payload is delivered", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const got = yield* collect(seams[1]!, 2)
        yield* seams[0]!.sendTo(seams[1]!.selfId, new Uint8Array(0))
        yield* seams[0]!.broadcast(new Uint8Array(0))
        const frames = yield* waits.join("two empty frames arrive", got)
        expect(frames.map((s) => s.payloadSize)).toEqual([0, 0])
      }))

    test("payload bytes arrive unchanged", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const got = yield* collect(seams[1]!, 1)
        const payload = Uint8Array.from({ length: 256 }, (_, i) => 255 - i)
        yield* seams[0]!.sendTo(seams[1]!.selfId, payload)
        const [frame] = yield* waits.join("the frame arrives", got)
        expect(Array.from(frame!.payload)).toEqual(Array.from(payload))
      }))

    if (factory.buffersBeforeCollect ?? true) {
      test("frames sent before the receiver starts collecting are delivered", () =>
        Effect.gen(function*() {
          const { seams } = yield* woven(2)
          for (let k = 0; k < 10; k++) yield* seams[0]!.sendTo(seams[1]!.selfId, frameOf(k))
          yield* waits.pass(20)
          const got = yield* collect(seams[1]!, 10)
          expect((yield* waits.join("10 frames arrive", got)).map(numberOf)).toEqual(Array.from({ length: 10 }, (_, k) => k))
        }))
    }

    // ---------------------------------------------------------------- Swatch

    test("Swatch.byteAt and dropFirst view the received payload", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const got = yield* collect(seams[1]!, 1)
        yield* seams[0]!.sendTo(seams[1]!.selfId, bytes(10, 20, 30, 40))
        const [frame] = yield* waits.join("the frame arrives", got)
        expect([frame!.byteAt(0), frame!.byteAt(3), frame!.byteAt(4), frame!.byteAt(-1)]).toEqual([10, 40, undefined, undefined])
        const rest = frame!.dropFirst(1)
        expect(Array.from(rest.payload)).toEqual([20, 30, 40])
        expect([rest.sender, rest.sequence]).toEqual([frame!.sender, frame!.sequence])
        expect(rest.payload.buffer).toBe(frame!.payload.buffer)
        expect(frame!.dropFirst(10).payloadSize).toBe(0)
      }))

    test("Swatch.decodeToString decodes UTF-8 and toByteArray returns an independent copy", () =>
      Effect.gen(function*() {
        const { seams } = yield* woven(2)
        const got = yield* collect(seams[1]!, 1)
        yield* seams[0]!.sendTo(seams[1]!.selfId, new TextEncoder().encode("héllo, wörld"))
        const [frame] = yield* waits.join("the frame arrives", got)
        expect(frame!.decodeToString()).toBe("héllo, wörld")
        const copy = frame!.toByteArray()
        copy[0] = 0
        expect(frame!.byteAt(0)).toBe("h".charCodeAt(0))
        expect(copy.byteLength).toBe(frame!.payloadSize)
      }))
  })
}
