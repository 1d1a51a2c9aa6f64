/** A seeded PRNG (mulberry32): the nemesis's and each client's choices replay from the seed. */
export const prng = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A uniform pick from `xs` (which must not be empty). */
export const pick = <A>(rand: () => number, xs: ReadonlyArray<A>): A => xs[Math.floor(rand() * xs.length)]!

/** A uniform integer in [lo, hi]. */
export const between = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1))
