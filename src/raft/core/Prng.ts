/**
 * A tiny deterministic PRNG (SplitMix32) for the core. The core may not touch Effect or
 * `Math.random`; the engine seeds this from Effect's `Random`, so a seeded `Random` makes the
 * whole node reproducible.
 */
export class Prng {
  private state: number

  constructor(seed: number) {
    this.state = seed | 0
  }

  /** Next unsigned 32-bit value. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) | 0
    let z = this.state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }

  /** Uniform integer in `[min, max)`; `max > min` is the caller's job. */
  between(min: number, max: number): number {
    return min + (this.nextU32() % (max - min))
  }
}
