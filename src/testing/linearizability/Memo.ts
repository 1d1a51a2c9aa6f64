/**
 * The search's memory of configurations already explored (Lowe's memoisation): a configuration is
 * (set of operations linearized so far, model state), and its future depends on nothing else, so
 * one seen before — explored to failure, since the search stops at the first success — is skipped.
 *
 * Keys are numbers, not strings: states are interned to ids (StateTable.ts), and the linearized
 * set carries a Zobrist hash (XOR of a random word per member, updated in O(1) as the search adds
 * and removes operations) combined with the state id. A hash only routes the lookup: every match is
 * confirmed against the stored set and state id, so a collision can never make the search skip a
 * configuration it has not explored (which could turn "ok" into a false "violation"). Entries are
 * typed-array rows only: no JS objects, nothing for the garbage collector to trace.
 *
 * Storage grows on demand (open addressing with linear probing, doubled at half load), so a large
 * limit costs nothing until the search needs it; running out of memory ends the search with
 * "unknown" instead of an exception.
 *
 * (A dominance rule — skip a configuration if one with the same known operations and states but a
 * subset of the unknown-outcome operations placed was seen — is sound, but measured slower here:
 * it keeps no-op placements of unknown operations from being absorbed, so they are retried at every
 * later step.)
 */
import { mix32, zobristKeys } from "./Hash.js"

/**
 * The most entries one memo may hold, whatever the options say: the distinct states live in a JS
 * array (StateTable.ts), whose backing store V8 caps at about 2^27 elements, and 2^26 entries
 * already take a few GiB.
 */
export const MEMO_ENTRY_LIMIT = 2 ** 26

/**
 * The set of linearized operations, as a bitset over their call-order index, in a canonical form
 * the memo can store compactly: words below `full` are all ones, words above `top` all zeros, so
 * only words `full..top` need storing. Operations are indexed in call order and the search
 * linearizes roughly in that order, so that window is a word or two however long the history is.
 */
export class OpSet {
  readonly words: Int32Array
  private readonly keys: Int32Array
  /** Zobrist hash of the members. */
  hash = 0
  /** The first word that is not all ones. */
  full = 0
  /** The last word that is not all zeros, or -1. */
  top = -1

  constructor(size: number) {
    this.words = new Int32Array((size + 31) >>> 5)
    this.keys = zobristKeys(size)
  }

  add(i: number): void {
    const w = i >>> 5
    const words = this.words
    words[w] = words[w]! | (1 << (i & 31))
    this.hash ^= this.keys[i]!
    if (w > this.top) this.top = w
    while (this.full < words.length && words[this.full] === -1) this.full++
  }

  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0
  }

  delete(i: number): void {
    const w = i >>> 5
    const words = this.words
    words[w] = words[w]! & ~(1 << (i & 31))
    this.hash ^= this.keys[i]!
    if (w < this.full) this.full = w
    if (w === this.top) while (this.top >= 0 && words[this.top] === 0) this.top--
  }
}

/** What {@link Memo.visit} found. */
export const SEEN = 0
export const NEW = 1
export const NO_MEMORY = 2

/**
 * Configurations explored so far. `visit` answers "explore this?" and records it if so.
 */
export class Memo {
  /** Open-addressing slots: [hash, entry + 1] pairs; entry + 1 = 0 marks an empty slot. */
  private slots = new Int32Array(2 * 1024)
  private mask = 1023
  private entryFull = new Int32Array(1024)
  private entryOffset = new Int32Array(1024)
  private entryLength = new Int32Array(1024)
  private entryState = new Int32Array(1024)
  private arena = new Int32Array(1024)
  private arenaUsed = 0
  size = 0
  /** Why the last `visit` returned {@link NO_MEMORY}. */
  failure = ""

  /** Whether (`set`, `state` id) is new (recorded now), was {@link SEEN}, or could not be stored. */
  visit(set: OpSet, state: number): number {
    const h = set.hash ^ mix32(Math.imul(state, 0x9e3779b1))
    const slots = this.slots
    const mask = this.mask
    const words = set.words
    const full = set.full
    const length = set.top - full + 1
    let slot = h & mask
    for (;;) {
      const e = slots[2 * slot + 1]! - 1
      if (e < 0) break
      if (
        slots[2 * slot] === h && this.entryState[e] === state && this.entryFull[e] === full &&
        this.entryLength[e] === length
      ) {
        const arena = this.arena
        const off = this.entryOffset[e]!
        let same = true
        for (let k = 0; k < length && same; k++) same = arena[off + k] === words[full + k]
        if (same) return SEEN
      }
      slot = (slot + 1) & mask
    }
    try {
      this.reserve(length)
    } catch (e) {
      // Typed-array allocation failure (a RangeError): out of memory, not a verdict.
      this.failure = `memo could not grow beyond ${this.size} entries (${e instanceof Error ? e.message : String(e)})`
      return NO_MEMORY
    }
    const e = this.size++
    const off = this.arenaUsed
    // A loop, not `set(subarray(…))`: a subarray is a heap object per entry, i.e. garbage.
    const arena = this.arena
    for (let k = 0; k < length; k++) arena[off + k] = words[full + k]!
    this.arenaUsed += length
    this.entryFull[e] = full
    this.entryOffset[e] = off
    this.entryLength[e] = length
    this.entryState[e] = state
    if (this.slots !== slots) slot = this.findEmpty(h)
    this.slots[2 * slot] = h
    this.slots[2 * slot + 1] = e + 1
    return NEW
  }

  /** Makes room for one more entry with `length` bitset words (may move every array). */
  private reserve(length: number): void {
    if (this.size === this.entryFull.length) {
      const n = growth(this.size)
      this.entryFull = grow(this.entryFull, n)
      this.entryOffset = grow(this.entryOffset, n)
      this.entryLength = grow(this.entryLength, n)
      this.entryState = grow(this.entryState, n)
    }
    if (this.arenaUsed + length > this.arena.length) {
      const n = Math.max(growth(this.arena.length), this.arenaUsed + length)
      if (n > 0x7fffffff) throw new RangeError("bitset storage exceeds 2^31 words")
      this.arena = grow(this.arena, n)
    }
    if (2 * (this.size + 1) > this.mask + 1) this.rehash()
  }

  private rehash(): void {
    const old = this.slots
    this.slots = new Int32Array(2 * growth(old.length >>> 1))
    this.mask = (this.slots.length >>> 1) - 1
    for (let s = 0; s < old.length; s += 2) {
      const e1 = old[s + 1]!
      if (e1 === 0) continue
      const slot = this.findEmpty(old[s]!)
      this.slots[2 * slot] = old[s]!
      this.slots[2 * slot + 1] = e1
    }
  }

  private findEmpty(h: number): number {
    let slot = h & this.mask
    while (this.slots[2 * slot + 1] !== 0) slot = (slot + 1) & this.mask
    return slot
  }
}

/** Fourfold while small (fewer rehashes and copies), then twofold (less slack). */
const growth = (n: number): number => (n < 1 << 20 ? 4 * n : 2 * n)

const grow = (a: Int32Array, length: number): Int32Array<ArrayBuffer> => {
  const b = new Int32Array(length)
  b.set(a)
  return b
}
