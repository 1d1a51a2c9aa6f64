/**
 * The Wing–Gong / Lowe search ("WGL", as in Knossos and Porcupine) over one partition.
 *
 * Operations become call and return entries in a doubly linked list sorted by time (calls before
 * returns on ties, so touching operations count as concurrent). The search walks the list from the
 * front: at a call it tries to linearize that operation next (its call precedes every pending
 * return, so real-time order allows it); at a return whose operation is not yet linearized it is
 * stuck and backtracks. Linearized operations are unlinked from the list ("lift") and relinked on
 * backtrack ("unlift", dancing-links style). Lowe's memo prunes configurations already explored
 * (Memo.ts).
 *
 * Unknown-outcome operations (return = ∞) get a call entry and no return entry: they may be
 * linearized whenever their call is reachable, or never. The search succeeds as soon as every
 * operation with a known outcome is linearized; unknown ones still unplaced never took effect.
 * (Porcupine instead places them after everything, which needs the model to accept them in the
 * final state; leaving them out asks less of the model.) Like every call they are tried eagerly,
 * as soon as reachable: a write that never took effect is then absorbed where it is harmless (just
 * before an overwrite) rather than retried at every later step. (Trying them only when stuck —
 * "just in time" — was measured slower on simulated histories for that reason.)
 *
 * The model state is a set of states (powerset construction for nondeterministic models); for a
 * deterministic model it is always a singleton.
 */
import type { Operation } from "./History.js"
import { UNKNOWN } from "./History.js"
import { Memo, OpSet } from "./Memo.js"
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

const CALL = 0
const RETURN = 1
const NIL = -1

/** A doubly linked list over 1..size with head 0; unlink/relink must be LIFO (dancing links). */
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
  // Indices in call order keep the linearized set close to a prefix, so memo keys stay short.
  const ops = operations.slice().sort((a, b) => a.call - b.call || a.id - b.id)
  const n = ops.length
  const known = ops.map((op) => op.output !== UNKNOWN)
  let remaining = known.filter(Boolean).length
  if (remaining === 0) return { kind: "ok", steps: 0 }
  const knownTotal = remaining

  // ---- entries (1-based; 0 is the head): a call per operation, a return per known one ----
  const raw: Array<{ time: number; kind: number; op: number }> = []
  for (let i = 0; i < n; i++) {
    raw.push({ time: ops[i]!.call, kind: CALL, op: i })
    if (known[i]) raw.push({ time: ops[i]!.return, kind: RETURN, op: i })
  }
  raw.sort((a, b) => a.time - b.time || a.kind - b.kind || a.op - b.op)
  const entryKind = new Uint8Array(raw.length + 1)
  const entryOp = new Int32Array(raw.length + 1)
  const returnEntry = new Int32Array(n).fill(NIL)
  raw.forEach((r, pos) => {
    entryKind[pos + 1] = r.kind
    entryOp[pos + 1] = r.op
    if (r.kind === RETURN) returnEntry[r.op] = pos + 1
  })
  const list = new Links(raw.length)

  const linearized = new OpSet(n)
  const equal = model.equal
  const memo = new Memo<S>(equal === undefined ? undefined : (a, b) => sameStateSet(equal, a, b))
  const visit = (states: ReadonlyArray<S>) => memo.visit(linearized.key() + "|" + stateSetKey(model, states), states)

  // ---- the DFS stack: one frame per linearized operation ----
  const frameEntry: Array<number> = []
  const frameStates: Array<ReadonlyArray<S>> = []
  const frameHi: Array<number> = []

  // ---- longest prefix (most known operations), maintained incrementally: only the frames pushed
  // since the last record are copied. It ends with a known operation, so unknown operations that
  // nothing needed do not clutter the explanation. ----
  let states: ReadonlyArray<S> = [model.init()]
  const best: Array<Operation<I, O>> = []
  let bestKnown = 0
  let bestStates: ReadonlyArray<S> = states
  let divergedAt = 0

  visit(states)
  let entry = list.next[0]!
  let steps = 0
  while (remaining > 0) {
    if (steps >= budget.maxSteps) return { kind: "unknown", steps, reason: `step budget of ${budget.maxSteps} exhausted` }
    if (memo.size >= budget.maxMemoEntries) {
      return { kind: "unknown", steps, reason: `memo budget of ${budget.maxMemoEntries} entries exhausted` }
    }
    steps++
    if (entry === NIL) throw new Error("linearizability search: ran off the entry list (internal error)")
    const i = entryOp[entry]!
    if (entryKind[entry] === CALL) {
      const op = ops[i]!
      const after = stepAll(model, states, op.input, op.output)
      if (after.length > 0) {
        const prevHi = linearized.hi
        linearized.add(i)
        if (visit(after)) {
          frameEntry.push(entry), frameStates.push(states), frameHi.push(prevHi)
          states = after
          list.unlink(entry)
          if (known[i]) list.unlink(returnEntry[i]!), remaining--
          if (knownTotal - remaining > bestKnown) {
            for (let d = divergedAt; d < frameEntry.length; d++) best[d] = ops[entryOp[frameEntry[d]!]!]!
            best.length = frameEntry.length
            bestKnown = knownTotal - remaining
            bestStates = states
            divergedAt = frameEntry.length
          }
          entry = list.next[0]!
          continue
        }
        linearized.delete(i)
        linearized.hi = prevHi
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
    const j = entryOp[e]!
    if (known[j]) list.relink(returnEntry[j]!), remaining++
    list.relink(e)
    linearized.delete(j)
    linearized.hi = frameHi.pop()!
    if (frameEntry.length < divergedAt) divergedAt = frameEntry.length
    entry = list.next[e]!
  }
  return { kind: "ok", steps }
}
