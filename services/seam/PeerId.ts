/**
 * Peer identity on a Seam.
 *
 * A `PeerId` is an opaque string chosen by the fabric (or requested by the caller) when a seam is
 * woven. It is the only notion of "who" at the transport level: frames never state their sender,
 * the receiving seam stamps it (docs/ARCHITECTURE.md, "Seams").
 */
import { Brand, Effect, Random } from "effect"
import { idProblem, MAX_ID_BYTES } from "../IdLimit.js"

/** An opaque, stable identifier of one peer on a seam. */
export type PeerId = string & Brand.Brand<"PeerId">

/**
 * Brands a string as a `PeerId`: 1..255 bytes of well-formed UTF-8, the one id limit shared with
 * Raft node and client ids (`services/IdLimit.ts`). Anything else is refused (a Brand error).
 */
export const PeerId = Brand.refined<PeerId>(
  (s) => idProblem(s) === undefined,
  (s) => Brand.error(`a PeerId must be 1..${MAX_ID_BYTES} bytes of well-formed UTF-8: it ${idProblem(s)}`)
)

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0")

/**
 * Mints a fresh random peer id (UUID v4 shape) from Effect's `Random`, so a seeded `Random`
 * makes it reproducible in tests.
 */
export const freshPeerId: Effect.Effect<PeerId> = Effect.gen(function*() {
  const parts: Array<number> = []
  for (let i = 0; i < 8; i++) parts.push(yield* Random.nextIntBetween(0, 0x10000))
  const [a, b, c, d, e, f, g, h] = parts as [number, number, number, number, number, number, number, number]
  const version = (d & 0x0fff) | 0x4000
  const variant = (e & 0x3fff) | 0x8000
  return PeerId(`${hex(a, 4)}${hex(b, 4)}-${hex(c, 4)}-${hex(version, 4)}-${hex(variant, 4)}-${hex(f, 4)}${hex(g, 4)}${hex(h, 4)}`)
})
