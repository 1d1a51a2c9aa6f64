/**
 * Channel multiplexer benchmark: how much routing frames by channel costs over one seam.
 *
 * Two seams of one `InMemoryLoom` (reliable links, back-pressure, real clock); peer A sends
 * `FRAMES` frames of `PAYLOAD` bytes to peer B, and B's collector counts them. The figure is frames
 * per second from the first send to the last receipt:
 *
 * - `mux.bare`: A's seam to B's seam, no multiplexer (the baseline);
 * - `mux.tag`: through one channel of a one-byte-tag mux on each side, with three other channels
 *   open (as the game layout has): A's view prepends the tag, B's mux routes on it;
 * - `mux.name`: the same through a named channel (`[len][name]` header), with three other names
 *   of the same length open, so routing compares bytes.
 *
 * The three alternate for `ROUNDS` rounds (after a warm-up round) and each line gives the medians
 * of frames per second of wall time and per second of this process's CPU time; `ratio` compares
 * the CPU figure with `mux.bare` of the same run (on a shared machine the CPU figure is the one
 * other jobs disturb least).
 */
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import { pathToFileURL } from "node:url"
import { InMemoryLoom } from "../layers/seam/inmemory/InMemoryLoom.js"
import type { PeerId } from "../services/seam/PeerId.js"
import type { SeamShape } from "../services/seam/Seam.js"
import { Mux } from "../src/seam/Mux.js"
import { emit, now, round, runBench } from "./stats.js"

const FRAMES = 400_000
const PAYLOAD = 32
const ROUNDS = 5

/** One channel view on each side, other channels open beside it. */
interface Pair {
  readonly a: SeamShape
  readonly b: SeamShape
}

/** How a variant turns the two raw seams into the pair it measures (in the round's scope). */
type Open = (a: SeamShape, b: SeamShape) => Effect.Effect<Pair, never, Scope.Scope>

const bare: Open = (a, b) => Effect.succeed({ a, b })

const byTag: Open = (a, b) =>
  Effect.gen(function*() {
    const open = (seam: SeamShape) =>
      Effect.gen(function*() {
        const mux = yield* Mux.byTag(seam)
        for (const other of [1, 2, 4]) yield* Effect.orDie(mux.channel(other))
        return yield* Effect.orDie(mux.channel(3))
      })
    return { a: yield* open(a), b: yield* open(b) }
  })

const byName: Open = (a, b) =>
  Effect.gen(function*() {
    const open = (seam: SeamShape) =>
      Effect.gen(function*() {
        const mux = yield* Mux.byName(seam)
        for (const other of ["chat", "cur1", "cur2"]) yield* Effect.orDie(mux.channel(other))
        return yield* Effect.orDie(mux.channel("game"))
      })
    return { a: yield* open(a), b: yield* open(b) }
  })

/** Frames per second of one transfer of `FRAMES` frames through the pair `open` makes. */
const transfer = (open: Open, session: string) =>
  Effect.scoped(Effect.gen(function*() {
    const loom = yield* InMemoryLoom.make()
    const a = yield* loom.host({ sessionName: session, peerKey: "a" })
    const b = yield* loom.join({ sessionName: session, peerKey: "b" })
    const pair = yield* open(a, b)
    const to = "b" as PeerId
    const payload = new Uint8Array(PAYLOAD).fill(7)
    const received = yield* Effect.fork(pair.b.incoming.pipe(Stream.take(FRAMES), Stream.runDrain))
    const t0 = now()
    const cpu0 = process.cpuUsage()
    yield* Effect.orDie(Effect.forEach(Array.from({ length: FRAMES }), () => pair.a.sendTo(to, payload), { discard: true }))
    yield* received.await
    const cpu = process.cpuUsage(cpu0)
    return { wall: FRAMES / ((now() - t0) / 1000), cpu: FRAMES / ((cpu.user + cpu.system) / 1e6) }
  }))

const median = (xs: Array<number>): number => {
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]!
}

export const runMuxBench = Effect.gen(function*() {
  const variants = [["mux.bare", bare], ["mux.tag", byTag], ["mux.name", byName]] as const
  const samples = new Map<string, Array<{ wall: number; cpu: number }>>(variants.map(([name]) => [name, []]))
  for (let r = 0; r <= ROUNDS; r++) {
    for (const [name, open] of variants) {
      const figures = yield* transfer(open, `${name}-${r}`)
      if (r > 0) samples.get(name)!.push(figures) // round 0 warms up
    }
  }
  for (const [name] of variants) {
    const figures = samples.get(name)!
    emit(
      {
        bench: name,
        frames: FRAMES,
        payload_bytes: PAYLOAD,
        frames_per_cpu_s: round(median(figures.map((f) => f.cpu)), 0),
        frames_per_s: round(median(figures.map((f) => f.wall)), 0)
      },
      name === "mux.bare" ? undefined : { vs: "mux.bare", metric: "frames_per_cpu_s" }
    )
  }
})

// `npm run bench:mux` runs this file alone; `npm run bench` includes it.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) runBench(runMuxBench)
