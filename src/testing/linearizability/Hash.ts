/**
 * 32-bit hashing for the checker's memo and for models' `hash`. Hashes only route a lookup: the
 * memo verifies every match with exact equality (Memo.ts), so a collision costs time, never a
 * wrong verdict.
 */

/** FNV-1a offset basis: the hash of the empty string. */
export const FNV_OFFSET = 0x811c9dc5 | 0

/**
 * FNV-1a over the UTF-16 code units of `s`, continuing from `seed` (default: the empty string's
 * hash). Continuation makes appends cheap: `hashString(a + b) === hashString(b, hashString(a))`,
 * so a model whose state grows by appending can update its hash in O(appended length).
 */
export const hashString = (s: string, seed: number = FNV_OFFSET): number => {
  let h = seed | 0
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h
}

/** Murmur3's finalizer: spreads every input bit over the 32-bit result. */
export const mix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/**
 * A hash of a number consistent with `===` (so `0` and `-0` agree): small integers hash
 * directly, anything else through its decimal text.
 */
export const hashNumber = (x: number): number =>
  Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff ? mix32(x | 0) : hashString(String(x))

/**
 * `count` pseudo-random 32-bit words from a fixed seed (splitmix32): the per-operation keys of the
 * linearized-set hash (Zobrist hashing — adding or removing an operation XORs its key, O(1)).
 * Fixed seed: the same history always probes the memo the same way.
 */
export const zobristKeys = (count: number): Int32Array => {
  const keys = new Int32Array(count)
  let state = 0x9e3779b9 | 0
  for (let i = 0; i < count; i++) {
    state = (state + 0x9e3779b9) | 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    keys[i] = z ^ (z >>> 16)
  }
  return keys
}
