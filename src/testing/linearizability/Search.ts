/**
 * The Wing–Gong / Lowe search ("WGL", as in Knossos and Porcupine) over one partition.
 *
 * Operations with a known outcome become call and return entries in a doubly linked list sorted by
 * time (calls before returns on ties, so touching operations count as concurrent). The search
 * walks the list from the front: at a call it tries to linearize that operation next (its call
 * precedes every pending return, so real-time order allows it); at a return whose operation is not
 * yet linearized it is stuck. Linearized operations are unlinked ("lift") and relinked on
 * backtrack ("unlift", dancing-links style). Lowe's memo prunes configurations already explored
 * (see Memo.ts).
 *
 * Unknown-outcome operations (return = ∞) get a call entry and no return entry: they may be
 * linearized whenever their call is reachable, or never. The search succeeds as soon as every
 * operation with a known outcome is linearized; unknown ones still unplaced never took effect.
 * (Porcupine instead places them after everything, which needs the model to accept them in the
 * final state; leaving them out asks less.) Like every call, an unknown one is tried eagerly, as
 * soon as it is reachable: a write that never took effect is then absorbed where it is harmless
 * (just before an overwrite) instead of being retried at every later dead end; the dominance rule
 * in Memo.ts stops the search from re-exploring the subsets of such placements.
 *
 * The model state is a set of states (powerset construction for nondeterministic models); for a
 * deterministic model it is always a singleton.
 */
import type { Operation } from "./History.js"
import { UNKNOWN } from "./History.js"
import { KnownSet, Memo, PlacedSet } from "./Memo.js"
import type { Model } from "./Model.js"
import { sameStateSet, stateSetKey, stepAll } from "./Model.js"

/** Limits of one partition's search. */
export interface SearchBudget {
  readonly maxSteps: number
  readonly maxMemoEntries: number
}

/** What the search of one partition concluded. */
export type SearchOutcome<S, I, O> =
  | { readonly kind: "ok"; readonly steps: number }
  | {
    readonly kind: "violation"
    readonly steps: number
    /** The longest sequence of operations the search managed to linearize, in order. */
    readonly longestPrefix: ReadonlyArray<Operation<I, O>>
    /** The possible model states after that prefix. */
    readonly statesAfterPrefix: ReadonlyArray<S>
  }
  | { readonly kind: "unknown"; readonly steps: number; readonly reason: string }

const CALL = 0 // known outcome
const GHOST_CALL = 1 // unknown outcome
const RETURN = 2
const NIL = -1
const rank = (kind: number): number => (kind === RETURN ? 1 : 0)

/** A doubly linked list over 1..size with head 0, supporting unlink/relink in LIFO order. */
class Links {
  readonly next: Int32Array
  readonly prev: Int32Array
  constructor(size: number) {
    this.next = new Int32Array(size + 1)
    this.prev = new Int32Array(size + 1)
    for (let e = 0; e <= size; e++) {
      this.next[e] = e === size ? NIL : e + 1
      this.prev[e] = e - 1
    }
  }
  unlink(e: number): void {
    const n = this.next[e]!
    this.next[this.prev[e]!] = n
    if (n !== NIL) this.prev[n] = this.prev[e]!
  }
  relink(e: number): void {
    const n = this.next[e]!
    this.next[this.prev[e]!] = e
    if (n !== NIL) this.prev[n] = e
  }
}

/**
 * Searches for a linearization of `operations` (one partition). Deterministic: the same input
 * always takes the same number of steps.
 */
export const searchPartition = <S, I, O>(
  model: Model<S, I, O>,
  operations: ReadonlyArray<Operation<I, O>>,
  budget: SearchBudget
): SearchOutcome<S, I, O> => {
  const byCall = (a: Operation<I, O>, b: Operation<I, O>) => a.call - b.call || a.id - b.id
  const known = operations.filter((op) => op.output !== UNKNOWN).sort(byCall)
  const ghosts = operations.filter((op) => op.output === UNKNOWN).sort(byCall)
  const k = known.length
  if (k === 0) return { kind: "ok", steps: 0 }

  // ---- entries (1-based; 0 is the head): call + return per known op, call per unknown op ----
  const raw: Array<{ time: number; kind: number; ref: number }> = []
  for (let i = 0; i < k; i++) {
    raw.push({ time: known[i]!.call, kind: CALL, ref: i }, { time: known[i]!.return, kind: RETURN, ref: i })
  }
  for (let g = 0; g < ghosts.length; g++) raw.push({ time: ghosts[g]!.call, kind: GHOST_CALL, ref: g })
  // On equal times calls come first (touching operations are concurrent); then by call order.
  raw.sort((a, b) => a.time - b.time || rank(a.kind) - rank(b.kind) || callOrder(a) - callOrder(b))
  function callOrder(r: { kind: number; ref: number }): number {
    const op = r.kind === GHOST_CALL ? ghosts[r.ref]! : known[r.ref]!
    return op.id
  }
  const entryKind = new Uint8Array(raw.length + 1)
  const entryRef = new Int32Array(raw.length + 1)
  const returnEntry = new Int32Array(k)
  raw.forEach((r, pos) => {
    entryKind[pos + 1] = r.kind
    entryRef[pos + 1] = r.ref
    if (r.kind === RETURN) returnEntry[r.ref] = pos + 1
  })
  const list = new Links(raw.length)

  const linearized = new KnownSet(k)
  const placed = new PlacedSet(ghosts.length)
  const equal = model.equal
  const memo = new Memo<S>(equal === undefined ? undefined : (a, b) => sameStateSet(equal, a, b))
  const visit = (states: ReadonlyArray<S>) => memo.visit(linearized.key() + "|" + stateSetKey(model, states), placed, states)
  const opOf = (e: number): Operation<I, O> => entryKind[e] === GHOST_CALL ? ghosts[entryRef[e]!]! : known[entryRef[e]!]!

  // ---- the DFS stack: one frame per placed operation ----
  const frameEntry: Array<number> = []
  const frameStates: Array<ReadonlyArray<S>> = []
  const frameHi: Array<number> = []

  // ---- longest prefix, maintained incrementally (only the part changed since the last record is copied) ----
  const best: Array<Operation<I, O>> = []
  let bestStates: ReadonlyArray<S> = []
  let divergedAt = 0

  let states: ReadonlyArray<S> = [model.init()]
  visit(states)
  let remaining = k
  let entry = list.next[0]!
  let steps = 0

  while (remaining > 0) {
    if (steps >= budget.maxSteps) return { kind: "unknown", steps, reason: `step budget of ${budget.maxSteps} exhausted` }
    if (memo.size >= budget.maxMemoEntries) {
      return { kind: "unknown", steps, reason: `memo budget of ${budget.maxMemoEntries} entries exhausted` }
    }
    steps++
    if (entry === NIL) throw new Error("linearizability search: ran off the entry list (internal error)")
    const kind = entryKind[entry]!
    if (kind !== RETURN) {
      const op = opOf(entry)
      const after = stepAll(model, states, op.input, op.output)
      if (after.length > 0) {
        const ref = entryRef[entry]!
        const prevHi = linearized.hi
        if (kind === CALL) linearized.add(ref)
        else placed.add(ref)
        if (visit(after)) {
          frameEntry.push(entry), frameStates.push(states), frameHi.push(prevHi)
          states = after
          list.unlink(entry)
          if (kind === CALL) list.unlink(returnEntry[ref]!), remaining--
          if (frameEntry.length > best.length) {
            for (let d = divergedAt; d < frameEntry.length; d++) best[d] = opOf(frameEntry[d]!)
            bestStates = states
            divergedAt = frameEntry.length
          }
          entry = list.next[0]!
          continue
        }
        if (kind === CALL) linearized.delete(ref), linearized.hi = prevHi
        else placed.delete(ref)
      }
      entry = list.next[entry]!
      continue
    }
    // The return of an operation not yet linearized: what is placed so far cannot be extended.
    if (frameEntry.length === 0) {
      return { kind: "violation", steps, longestPrefix: best.slice(), statesAfterPrefix: bestStates }
    }
    const e = frameEntry.pop()!
    states = frameStates.pop()!
    const ref = entryRef[e]!
    if (entryKind[e] === CALL) {
      list.relink(returnEntry[ref]!)
      linearized.delete(ref)
      remaining++
    } else {
      placed.delete(ref)
    }
    list.relink(e)
    linearized.hi = frameHi.pop()!
    if (frameEntry.length < divergedAt) divergedAt = frameEntry.length
    entry = list.next[e]!
  }
  return { kind: "ok", steps }
}
