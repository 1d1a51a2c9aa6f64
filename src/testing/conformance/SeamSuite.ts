/**
 * What the two parts of the Seam conformance suite share: the runner's `test` and `expect` for the
 * fabric's timing, bounded waits, and helpers that weave seams and collect frames.
 */
import { Chunk, Effect, Stream } from "effect"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../services/seam/Seam.js"
import { CloseReason } from "../../../services/seam/SeamState.js"
import type { SeamState } from "../../../services/seam/SeamState.js"
import type { Swatch } from "../../../services/seam/Swatch.js"
import type { FabricFactory, FabricOptions, Waits } from "./SeamFabric.js"
import { makeWaits } from "./SeamFabric.js"
import type { ConformanceTestApi, ScopedTest } from "./TestApi.js"

/** Budgets are asked for as this many bytes (the base budget, before a view's header). */
const BASE_BUDGET = 1000

const bytes = (...values: ReadonlyArray<number>) => Uint8Array.from(values)
const frameOf = (k: number) => bytes(k >>> 8, k & 0xff)
const numberOf = (s: Swatch) => (s.payload[0]! << 8) | s.payload[1]!
const sameSet = (a: ReadonlySet<PeerId>, b: ReadonlySet<PeerId>) => a.size === b.size && [...a].every((x) => b.has(x))

/** Forks a collector of the first `n` frames of `seam`. */
const collect = (seam: SeamShape, n: number) =>
  Effect.fork(Stream.runCollect(Stream.take(seam.incoming, n)).pipe(Effect.map(Chunk.toReadonlyArray)))

const tornReason = (state: SeamState): CloseReason | undefined => state._tag === "Torn" ? state.reason : undefined

/** Builds the shared context of one fabric's suite. */
export const makeSeamSuite = (api: ConformanceTestApi, factory: FabricFactory) => {
  const { expect } = api
  const waits: Waits = makeWaits(factory.timing)
  const test: ScopedTest = factory.timing === "live" ? api.it.scopedLive : api.it.scoped
  const reserved = factory.reservedBytes ?? 0
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

  return {
    BASE_BUDGET,
    budget,
    budgeted,
    bytes,
    collect,
    dropsPeer,
    expect,
    factory,
    frameOf,
    numberOf,
    reserved,
    test,
    tornReason,
    waits,
    woven
  }
}

/** The shared context of one fabric's suite. */
export type SeamSuite = ReturnType<typeof makeSeamSuite>
