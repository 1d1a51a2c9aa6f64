/**
 * Hash-consing of model states for one partition's search: every distinct state (by the model's
 * `equal`) gets a small integer id, once. The memo then stores ids instead of states (so it holds
 * no JS objects: nothing for the garbage collector to trace), and compares them with `===`.
 *
 * With ids, a step is a pure function of (state id, operation), so {@link Transitions} caches it:
 * the search revisits the same states with the same operations constantly, and a cached step calls
 * no model code and allocates nothing. Both rely on the model contract (Model.ts): `step` is pure
 * and `equal` states behave alike.
 */
import type { Current } from "./StateSet.js"
import { sameCurrent } from "./StateSet.js"
import { mix32 } from "./Hash.js"

/** Distinct states seen by one search, by id. */
export class StateTable<S> {
  private readonly states: Array<Current<S>> = []
  /** Open-addressing slots: [hash, id + 1] pairs; 0 marks an empty slot. */
  private slots = new Int32Array(2 * 256)
  private mask = 255

  constructor(private readonly equal: (a: S, b: S) => boolean) {}

  get size(): number {
    return this.states.length
  }

  state(id: number): Current<S> {
    return this.states[id]!
  }

  /** The id of `state` (whose model hash is `hash`), assigning the next one if it is new. */
  intern(state: Current<S>, hash: number): number {
    let slot = mix32(hash) & this.mask
    for (;;) {
      const id1 = this.slots[2 * slot + 1]!
      if (id1 === 0) break
      if (this.slots[2 * slot] === hash && sameCurrent(this.equal, this.states[id1 - 1]!, state)) return id1 - 1
      slot = (slot + 1) & this.mask
    }
    const id = this.states.length
    this.states.push(state)
    if (2 * (id + 1) > this.mask + 1) {
      this.grow()
      slot = mix32(hash) & this.mask
      while (this.slots[2 * slot + 1] !== 0) slot = (slot + 1) & this.mask
    }
    this.slots[2 * slot] = hash
    this.slots[2 * slot + 1] = id + 1
    return id
  }

  private grow(): void {
    const old = this.slots
    // Fourfold while small, like the memo: fewer rehashes.
    this.slots = new Int32Array(old.length < 1 << 21 ? old.length * 4 : old.length * 2)
    this.mask = (this.slots.length >>> 1) - 1
    for (let s = 0; s < old.length; s += 2) {
      if (old[s + 1] === 0) continue
      let slot = mix32(old[s]!) & this.mask
      while (this.slots[2 * slot + 1] !== 0) slot = (slot + 1) & this.mask
      this.slots[2 * slot] = old[s]!
      this.slots[2 * slot + 1] = old[s + 1]!
    }
  }
}

/** Result of {@link Transitions.get} when the step is not cached. */
export const MISS = -2
/** A cached step that the model rejects. */
export const ILLEGAL = -1

/**
 * A direct-mapped cache of steps: (state id, operation index) → next state id or
 * {@link ILLEGAL}. Lossy (a new entry evicts the one in its slot), so its memory is fixed; it
 * grows from 4 096 slots up to `2^20` as the search takes more steps.
 */
export class Transitions {
  private fromState: Int32Array
  private op: Int32Array
  private to: Int32Array
  private mask: number
  private stores = 0

  constructor() {
    this.fromState = new Int32Array(4096)
    this.op = new Int32Array(4096)
    this.to = new Int32Array(4096)
    this.mask = 4095
  }

  get(state: number, op: number): number {
    const slot = mix32(Math.imul(state, 0x9e3779b1) ^ op) & this.mask
    // fromState holds state + 1, so the zeroed array starts empty.
    return this.fromState[slot] === state + 1 && this.op[slot] === op ? this.to[slot]! : MISS
  }

  set(state: number, op: number, to: number): void {
    // Doubling is cheap (the cache starts empty again) and bounded: ~12 MiB at 2^20 slots.
    if (++this.stores > 4 * (this.mask + 1) && this.mask < (1 << 20) - 1) this.resize(2 * (this.mask + 1))
    const slot = mix32(Math.imul(state, 0x9e3779b1) ^ op) & this.mask
    this.fromState[slot] = state + 1
    this.op[slot] = op
    this.to[slot] = to
  }

  private resize(size: number): void {
    this.fromState = new Int32Array(size)
    this.op = new Int32Array(size)
    this.to = new Int32Array(size)
    this.mask = size - 1
    this.stores = 0
  }
}
