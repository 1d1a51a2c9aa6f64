/**
 * Small helpers shared by the InMemoryLoom tests.
 */
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import type { InMemoryLoomShape } from "../../../../layers/seam/inmemory/InMemoryLoom.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import type { Swatch } from "../../../../services/seam/Swatch.js"

/** Hosts `names[0]` and joins the rest, each with its name as peerKey, on session "s". */
export const weaveMesh = (loom: InMemoryLoomShape, names: ReadonlyArray<string>, maxPeers = names.length) =>
  Effect.gen(function*() {
    const seams: Array<SeamShape> = [yield* loom.host({ sessionName: "s", maxPeers, peerKey: names[0]! })]
    for (const name of names.slice(1)) seams.push(yield* loom.join({ sessionName: "s", peerKey: name }))
    return seams
  })

/** Forks a collector of the first `n` frames of `seam`. */
export const collect = (seam: SeamShape, n: number) =>
  Effect.fork(Stream.runCollect(Stream.take(seam.incoming, n)).pipe(Effect.map(Chunk.toReadonlyArray)))

/** Sends one-byte frames `values` from `from` to `to`, in order. */
export const sendBytes = (from: SeamShape, to: SeamShape, ...values: ReadonlyArray<number>) =>
  Effect.forEach(values, (v) => from.sendTo(to.selfId, Uint8Array.of(v)), { discard: true })

/** First byte of each frame. */
export const firstBytes = (frames: ReadonlyArray<Swatch>) => frames.map((s) => s.payload[0])

/** Yields `n` times so forked fibers (collectors, the loom's scheduler) get to run. */
export const yieldTimes = (n: number) => Effect.repeatN(Effect.yieldNow(), n - 1)

/** True when `fiber` has finished. */
export const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

/** Sorted copy of a peer set, for readable equality checks. */
export const sorted = (peers: ReadonlySet<PeerId>) => [...peers].sort()
