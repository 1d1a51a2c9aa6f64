/**
 * The search's memory of configurations already explored (Lowe's memoisation), extended with a
 * dominance rule for unknown-outcome operations.
 *
 * A configuration is (known operations linearized, unknown operations placed, model states). Its
 * future depends on nothing else, so a configuration seen before need not be explored again —
 * and neither need one that is *dominated*: same known set and states but a superset of placed
 * unknown operations. Every unknown operation may also stay unplaced, so the configuration with
 * fewer of them placed can do everything the other can; if it failed, so does the other. Without
 * this rule an unknown write placed early and overwritten later yields a configuration that differs
 * from its sibling only by that placement, and the search re-explores the same future once per
 * subset of such writes (exponential in the number of timed-out writes).
 *
 * Keys are exact strings (no collision can make the search skip an unexplored configuration).
 */

const FULL = 0xffffffff

/** The set of linearized known operations, as a bitset over their call-order index. */
export class KnownSet {
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
   * member are the few in flight around the current point: the key stays short for long histories.
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

/** A snapshot of a {@link PlacedSet}: all of 0..lo-1 plus `above` (members above `lo`). */
export interface PlacedSnapshot {
  readonly lo: number
  readonly above: Int32Array
}

/**
 * The set of placed unknown operations (indexed in call order). Snapshots are kept short the same
 * way as {@link KnownSet} keys: the members below the lowest non-member are implied.
 * `add`/`delete` must be LIFO (they are: the search is a DFS).
 */
export class PlacedSet {
  private readonly words: Uint32Array
  /** Lowest non-member. */
  private lo = 0
  /** Highest member, or -1; previous values are stacked for LIFO deletes. */
  private top = -1
  private readonly tops: Array<number> = []

  constructor(private readonly size: number) {
    this.words = new Uint32Array((size + 31) >>> 5)
  }

  private has(g: number): boolean {
    return (this.words[g >>> 5]! & (1 << (g & 31))) !== 0
  }

  add(g: number): void {
    this.words[g >>> 5] = (this.words[g >>> 5]! | (1 << (g & 31))) >>> 0
    this.tops.push(this.top)
    if (g > this.top) this.top = g
    while (this.lo < this.size) {
      if ((this.lo & 31) === 0 && this.words[this.lo >>> 5] === FULL) this.lo += 32
      else if (this.has(this.lo)) this.lo++
      else break
    }
  }

  /** Removes the most recently added member `g`. */
  delete(g: number): void {
    this.words[g >>> 5] = (this.words[g >>> 5]! & ~(1 << (g & 31))) >>> 0
    this.top = this.tops.pop()!
    if (g < this.lo) this.lo = g
  }

  snapshot(): PlacedSnapshot {
    const above: Array<number> = []
    for (let g = this.lo + 1; g <= this.top; g++) {
      if ((g & 31) === 0 && this.words[g >>> 5] === 0) {
        g += 31
        continue
      }
      if (this.has(g)) above.push(g)
    }
    return { lo: this.lo, above: Int32Array.from(above) }
  }

  /** Whether every member of the snapshot is a member now. */
  contains(snapshot: PlacedSnapshot): boolean {
    if (this.lo < snapshot.lo) return false
    const above = snapshot.above
    for (let k = 0; k < above.length; k++) if (!this.has(above[k]!)) return false
    return true
  }
}

interface Seen<S> {
  readonly placed: PlacedSnapshot
  readonly states: ReadonlyArray<S> | undefined
}

/**
 * Configurations explored so far. `visit` answers "explore this?" and records it if so.
 * With `equal` (hash may collide) the state sets under one key are compared exactly.
 */
export class Memo<S> {
  private readonly seen = new Map<string, Array<Seen<S>>>()
  size = 0

  constructor(private readonly sameStates: ((a: ReadonlyArray<S>, b: ReadonlyArray<S>) => boolean) | undefined) {}

  /**
   * `key` identifies (known set, state set). Returns false — skip — if a recorded configuration
   * with the same key placed a subset of the currently placed unknown operations.
   */
  visit(key: string, placed: PlacedSet, states: ReadonlyArray<S>): boolean {
    const sameStates = this.sameStates
    let list = this.seen.get(key)
    if (list === undefined) {
      list = []
      this.seen.set(key, list)
    } else {
      for (const s of list) {
        if ((sameStates === undefined || sameStates(s.states!, states)) && placed.contains(s.placed)) return false
      }
    }
    list.push({ placed: placed.snapshot(), states: sameStates === undefined ? undefined : states })
    this.size++
    return true
  }
}
