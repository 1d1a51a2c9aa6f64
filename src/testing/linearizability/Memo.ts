/**
 * The search's memory of configurations already explored (Lowe's memoisation): a configuration is
 * (set of operations linearized so far, model states), and its future depends on nothing else, so
 * one seen before — explored to failure, since the search stops at the first success — is skipped.
 *
 * Keys are exact strings, never bare hashes, so no collision can make the search skip a
 * configuration it has not explored (which could turn "ok" into a false "violation").
 *
 * (A dominance rule — skip a configuration if one with the same known operations and states but a
 * subset of the unknown-outcome operations placed was seen — is sound, but measured slower here:
 * it keeps no-op placements of unknown operations from being absorbed, so they are retried at every
 * later step.)
 */

const FULL = 0xffffffff

/** The set of linearized operations, as a bitset over their call-order index. */
export class OpSet {
  private readonly words: Uint32Array
  /** Highest member, or -1. Restored by the search on backtrack (it saves the old value). */
  hi = -1
  /** words[0..fullPrefix) are all ones: the settled past, skipped when building keys. */
  private fullPrefix = 0

  constructor(size: number) {
    this.words = new Uint32Array((size + 31) >>> 5)
  }

  add(i: number): void {
    const w = i >>> 5
    this.words[w] = (this.words[w]! | (1 << (i & 31))) >>> 0
    while (this.fullPrefix < this.words.length && this.words[this.fullPrefix] === FULL) this.fullPrefix++
    if (i > this.hi) this.hi = i
  }

  /** Removes `i`; the caller restores `hi`. */
  delete(i: number): void {
    const w = i >>> 5
    this.words[w] = (this.words[w]! & ~(1 << (i & 31))) >>> 0
    if (w < this.fullPrefix) this.fullPrefix = w
  }

  /**
   * Exact key: the highest member and the non-members below it. Operations are indexed in call
   * order and the search linearizes roughly in that order, so the non-members below the highest
   * member are few — those in flight around the current point and unknown-outcome ones not placed
   * (yet) — and the key stays short however long the history is.
   */
  key(): string {
    const hi = this.hi
    let key = `${hi}:`
    if (hi < 0) return key
    const top = hi >>> 5
    for (let w = this.fullPrefix; w <= top; w++) {
      const word = this.words[w]!
      if (word === FULL) continue
      const limit = w === top ? (hi & 31) : 32
      for (let b = 0; b < limit; b++) if ((word & (1 << b)) === 0) key += `${(w << 5) | b},`
    }
    return key
  }
}

/**
 * Configurations explored so far. `visit` answers "explore this?" and records it if so. With
 * `sameStates` (the model's `hash` may collide) state sets under one key are compared exactly.
 */
export class Memo<S> {
  private readonly keys = new Set<string>()
  private readonly buckets = new Map<string, Array<ReadonlyArray<S>>>()
  size = 0

  constructor(private readonly sameStates: ((a: ReadonlyArray<S>, b: ReadonlyArray<S>) => boolean) | undefined) {}

  /** `key` identifies (linearized set, state set); false if it was seen before. */
  visit(key: string, states: ReadonlyArray<S>): boolean {
    const sameStates = this.sameStates
    if (sameStates === undefined) {
      if (this.keys.has(key)) return false
      this.keys.add(key)
    } else {
      const bucket = this.buckets.get(key)
      if (bucket === undefined) this.buckets.set(key, [states])
      else if (bucket.some((seen) => sameStates(seen, states))) return false
      else bucket.push(states)
    }
    this.size++
    return true
  }
}
