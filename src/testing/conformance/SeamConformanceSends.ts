/**
 * Seam conformance, part 2: `sendTo` failures, payload budgets, `broadcast`, payload fidelity and
 * the `Swatch` views (see `SeamConformance.ts`).
 */
import { Cause, Effect, Exit, Option } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { CloseReason } from "../../../services/seam/SeamState.js"
import type { SeamSuite } from "./SeamSuite.js"

export const registerSendTests = (suite: SeamSuite): void => {
  const { budget, budgeted, bytes, collect, dropsPeer, expect, factory, frameOf, numberOf, reserved, test, waits, woven } = suite
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
}
