/**
 * Seeded randomness for the simulator, split into independent streams per subsystem (network,
 * workload, faults, per-node cores) so that adding a draw in one does not shift the others
 * (reference §3.6). Built on the core's SplitMix32.
 */
import { Prng } from "../../raft/core/Prng.js"

export class SimRandom {
  private readonly prng: Prng

  constructor(seed: number, stream: number) {
    // Mix the stream id into the seed so streams of one seed are unrelated.
    this.prng = new Prng(Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(stream + 1, 0x9e3779b1))
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng.nextU32() / 0x1_0000_0000
  }

  /** Uniform integer in [min, max). */
  int(min: number, max: number): number {
    return max <= min ? min : this.prng.between(min, max)
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p
  }

  pick<A>(items: ReadonlyArray<A>): A {
    return items[this.int(0, items.length)]!
  }

  /** A seed for a derived generator. */
  fork(): number {
    return this.prng.nextU32()
  }
}
