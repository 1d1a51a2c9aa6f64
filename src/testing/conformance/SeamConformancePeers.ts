/**
 * Seam conformance, part 1: `peers`, `state` and `close`, the lifecycle of `incoming`, ordering
 * and sender stamping (see `SeamConformance.ts`).
 */
import { Cause, Chunk, Effect, Exit, Option, Stream } from "effect"
import type { SeamShape } from "../../../services/seam/Seam.js"
import { CloseReason } from "../../../services/seam/SeamState.js"
import type { SeamSuite } from "./SeamSuite.js"

export const registerPeerAndOrderTests = (suite: SeamSuite): void => {
  const { bytes, collect, dropsPeer, expect, factory, frameOf, numberOf, test, tornReason, waits, woven } = suite
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

}
