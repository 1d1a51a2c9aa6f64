/**
 * The search's model state: one state, or a set of possible states when the model is
 * nondeterministic (etcd's powerset construction: a step maps every member and keeps the
 * distinct results). A set of one is always the bare state, so a deterministic model never pays
 * for sets and equal configurations always look alike to the memo.
 */
import type { Unknown } from "./History.js"
import { mix32 } from "./Hash.js"
import type { Model } from "./Model.js"

/** Two or more distinct states (never one: that is the bare state). Private to the checker. */
export class StateSet<S> {
  constructor(
    readonly states: ReadonlyArray<S>,
    /** `hashes[i]` is the model hash of `states[i]`. */
    readonly hashes: ReadonlyArray<number>,
    /** Order-independent: the sum of the mixed member hashes. */
    readonly hash: number
  ) {}
}

/** The search's current state: a bare model state or a {@link StateSet}. */
export type Current<S> = S | StateSet<S>

/** `a === b`: the default state equality. */
export const strictEqual = (a: unknown, b: unknown): boolean => a === b

/** The model's equality, or `===`. */
export const equalityOf = <S, I, O>(model: Model<S, I, O>): (a: S, b: S) => boolean => model.equal ?? strictEqual

/** The possible states as an array. */
export const statesOf = <S>(current: Current<S>): ReadonlyArray<S> =>
  current instanceof StateSet ? current.states : [current]

/** The memo hash of a current state. */
export const hashCurrent = <S, I, O>(model: Model<S, I, O>, current: Current<S>): number =>
  current instanceof StateSet ? current.hash : model.hash(current) | 0

/** Exact equality of two current states (sets compared as sets). */
export const sameCurrent = <S>(equal: (a: S, b: S) => boolean, a: Current<S>, b: Current<S>): boolean => {
  if (a instanceof StateSet) {
    if (!(b instanceof StateSet) || a.hash !== b.hash || a.states.length !== b.states.length) return false
    // Both sides are deduplicated, so containment one way with equal sizes is set equality.
    for (let i = 0; i < a.states.length; i++) {
      let found = false
      for (let j = 0; j < b.states.length && !found; j++) {
        found = a.hashes[i] === b.hashes[j] && equal(a.states[i]!, b.states[j]!)
      }
      if (!found) return false
    }
    return true
  }
  return !(b instanceof StateSet) && equal(a, b)
}

/** Result slot of {@link stepCurrent}: written on success, so the hot loop allocates nothing. */
export interface Stepped<S> {
  state: Current<S>
  hash: number
}

/**
 * Applies one operation to the current state. Returns false if no possible state accepts it;
 * otherwise writes the next current state and its hash into `out`. `hash` is the current state's
 * hash; a step that returns the very same state reuses it.
 */
export const stepCurrent = <S, I, O>(
  model: Model<S, I, O>,
  equal: (a: S, b: S) => boolean,
  current: Current<S>,
  hash: number,
  input: I,
  output: O | Unknown,
  out: Stepped<S>
): boolean => {
  if (!(current instanceof StateSet)) {
    const r = model.step(current, input, output)
    if (!Array.isArray(r)) {
      const d = r as { readonly ok: boolean; readonly next: S }
      if (!d.ok) return false
      out.state = d.next
      out.hash = d.next === current ? hash : model.hash(d.next) | 0
      return true
    }
    return collect(model, equal, [r as ReadonlyArray<S>], out)
  }
  const results: Array<ReadonlyArray<S>> = []
  for (const s of current.states) {
    const r = model.step(s, input, output)
    if (Array.isArray(r)) results.push(r as ReadonlyArray<S>)
    else if ((r as { readonly ok: boolean }).ok) results.push([(r as { readonly next: S }).next])
  }
  return collect(model, equal, results, out)
}

/** Deduplicates candidate next states into a bare state or a set; false if there are none. */
const collect = <S, I, O>(
  model: Model<S, I, O>,
  equal: (a: S, b: S) => boolean,
  candidates: ReadonlyArray<ReadonlyArray<S>>,
  out: Stepped<S>
): boolean => {
  const states: Array<S> = []
  const hashes: Array<number> = []
  for (const group of candidates) {
    for (const s of group) {
      const h = model.hash(s) | 0
      let dup = false
      for (let i = 0; i < states.length && !dup; i++) dup = hashes[i] === h && equal(states[i]!, s)
      if (!dup) states.push(s), hashes.push(h)
    }
  }
  if (states.length === 0) return false
  if (states.length === 1) {
    out.state = states[0]!
    out.hash = hashes[0]!
    return true
  }
  let sum = 0
  for (const h of hashes) sum = (sum + mix32(h)) | 0
  out.state = new StateSet(states, hashes, sum)
  out.hash = sum
  return true
}
