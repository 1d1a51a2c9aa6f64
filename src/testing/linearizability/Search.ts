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
 * Forced reads: when the search reaches a read-only operation (the model's `readOnly`) that is
 * legal in the current state, placing it right there loses nothing. Any linearization of the
 * remaining operations places it later, in a state reached by the same writes; deleting it from
 * there leaves a linearization that starts with it placed now (a read changes no state, and
 * removing it only relaxes real-time order). So if the configuration with the read placed fails,
 * so does the one before it: the search backtracks one level further instead of trying the
 * read's siblings. With a set of possible states (nondeterministic models) the rule needs the read
 * to keep the whole set now; deleting it later then leaves supersets of the sets it would have
 * filtered, and stepping a superset never fails where the subset succeeds. A read that narrows
 * the set now is tried like any other operation. (Scanning each new configuration for a read to
 * force before trying anything else was measured: more steps, not fewer, on Porcupine's kv
 * histories.)
 *
 * Twins: unknown-outcome operations with equal inputs are placed in call order only (Twins.ts).
 *
 * The search is resumable: `run(until)` stops after a number of steps and a later call continues
 * where it left off, memo included. The checker uses that to share a budget fairly between
 * partitions (Checker.ts).
 */
import type { Operation, Unknown } from "./History.js"
import { UNKNOWN } from "./History.js"
import { Memo, NEW, NO_MEMORY, OpSet } from "./Memo.js"
import type { Model } from "./Model.js"
import type { Stepped } from "./StateSet.js"
import { equalityOf, hashCurrent, statesOf, stepCurrent } from "./StateSet.js"
import { ILLEGAL, MISS, StateTable, Transitions } from "./StateTable.js"
import { previousTwins } from "./Twins.js"

/** Where a search stands after {@link PartitionSearch.run}. */
export type SearchStatus = "ok" | "violation" | "paused" | "exhausted"

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
 * The search of one partition. Deterministic: the same input always takes the same steps, however
 * the work is split into `run` calls.
 */
export class PartitionSearch<S, I, O> {
  /** Steps taken so far (one per list entry visited). */
  steps = 0
  /** Why the search is "exhausted". */
  reason = ""

  private readonly ops: ReadonlyArray<Operation<I, O>>
  private readonly inputs: Array<I>
  private readonly outputs: Array<O | Unknown>
  private readonly known: Uint8Array
  /** The unknown-outcome twin called just before each operation, or -1 (Twins.ts). */
  private readonly previousTwin: Int32Array
  /** 1 for operations of the model's `readOnly` inputs. */
  private readonly readOnly: Uint8Array
  private readonly knownTotal: number
  private readonly entryKind: Uint8Array
  private readonly entryOp: Int32Array
  private readonly returnEntry: Int32Array
  private readonly list: Links
  private readonly linearized: OpSet
  private readonly memo = new Memo()
  private readonly equal: (a: S, b: S) => boolean
  private readonly table: StateTable<S>
  /** Model hash of each interned state, by id. */
  private stateHashes = new Int32Array(256)
  private readonly transitions = new Transitions()
  private readonly out: Stepped<S>

  // ---- the DFS: one frame per linearized operation; states are StateTable ids ----
  private readonly frameEntry: Int32Array
  private readonly frameState: Int32Array
  /** 1 where the frame placed a forced read (see the module comment). */
  private readonly frameForced: Uint8Array
  private depth = 0
  private entry: number
  private state: number
  private remaining: number
  private status: SearchStatus = "paused"

  // ---- longest prefix (most known operations), maintained incrementally: only the frames pushed
  // since the last record are copied. It ends with a known operation, so unknown operations that
  // nothing needed do not clutter the explanation. ----
  private readonly best: Array<Operation<I, O>> = []
  private bestKnown = 0
  private bestState = 0
  private divergedAt = 0

  constructor(
    private readonly model: Model<S, I, O>,
    operations: ReadonlyArray<Operation<I, O>>,
    private readonly maxMemoEntries: number
  ) {
    // Indices in call order keep the linearized set close to a prefix, so memo entries stay short.
    const ops = operations.slice().sort((a, b) => a.call - b.call || a.id - b.id)
    const n = ops.length
    this.ops = ops
    this.inputs = ops.map((op) => op.input)
    this.outputs = ops.map((op) => op.output)
    this.known = new Uint8Array(n)
    let knownTotal = 0
    for (let i = 0; i < n; i++) if (ops[i]!.output !== UNKNOWN) this.known[i] = 1, knownTotal++
    this.knownTotal = knownTotal
    this.previousTwin = previousTwins(this.inputs, (i) => this.known[i] === 0)
    this.readOnly = new Uint8Array(n)
    const isReadOnly = model.readOnly
    if (isReadOnly !== undefined) for (let i = 0; i < n; i++) if (isReadOnly(ops[i]!.input)) this.readOnly[i] = 1
    this.remaining = knownTotal

    // ---- entries (1-based; 0 is the head): a call per operation, a return per known one ----
    const raw: Array<{ time: number; kind: number; op: number }> = []
    for (let i = 0; i < n; i++) {
      raw.push({ time: ops[i]!.call, kind: CALL, op: i })
      if (this.known[i]) raw.push({ time: ops[i]!.return, kind: RETURN, op: i })
    }
    raw.sort((a, b) => a.time - b.time || a.kind - b.kind || a.op - b.op)
    this.entryKind = new Uint8Array(raw.length + 1)
    this.entryOp = new Int32Array(raw.length + 1)
    this.returnEntry = new Int32Array(n).fill(NIL)
    raw.forEach((r, pos) => {
      this.entryKind[pos + 1] = r.kind
      this.entryOp[pos + 1] = r.op
      if (r.kind === RETURN) this.returnEntry[r.op] = pos + 1
    })
    this.list = new Links(raw.length)
    this.frameEntry = new Int32Array(n)
    this.frameState = new Int32Array(n)
    this.frameForced = new Uint8Array(n)

    this.linearized = new OpSet(n)
    this.equal = equalityOf(model)
    this.table = new StateTable<S>(this.equal)
    const init = model.init()
    this.state = this.intern(init, hashCurrent(model, init))
    this.out = { state: init, hash: 0 }
    this.entry = this.list.next[0]!
    if (this.remaining === 0) this.status = "ok"
    else this.memo.visit(this.linearized, this.state)
  }

  /** The id of the state in `out` after stepping `op` from state `from`, or {@link ILLEGAL}. */
  private stepFrom(from: number, op: number): number {
    const out = this.out
    if (!stepCurrent(this.model, this.equal, this.table.state(from), this.stateHashes[from]!, this.inputs[op]!, this.outputs[op]!, out)) {
      return ILLEGAL
    }
    return this.intern(out.state, out.hash)
  }

  private intern(state: S | Stepped<S>["state"], hash: number): number {
    const id = this.table.intern(state, hash)
    if (id === this.stateHashes.length) {
      const grown = new Int32Array(2 * id)
      grown.set(this.stateHashes)
      this.stateHashes = grown
    }
    this.stateHashes[id] = hash
    return id
  }

  /** Memo entries held (the configurations explored). */
  get memoEntries(): number {
    return this.memo.size
  }

  /** Searches until a verdict, or until `steps` reaches `until` ("paused"; call again to go on). */
  run(until: number): SearchStatus {
    if (this.status !== "paused") return this.status
    const { known, entryKind, entryOp, returnEntry, list, linearized, memo, transitions } = this
    const { frameEntry, frameState, frameForced, best, ops, maxMemoEntries, readOnly, previousTwin } = this
    const next = list.next
    let { entry, state, remaining, steps, depth } = this
    let status: SearchStatus = "paused"
    search: while (remaining > 0) {
      if (steps >= until) break
      if (memo.size >= maxMemoEntries) {
        status = "exhausted"
        this.reason = `memo budget of ${maxMemoEntries} entries exhausted`
        break
      }
      steps++
      if (entry === NIL) throw new Error("linearizability search: ran off the entry list (internal error)")
      const i = entryOp[entry]!
      if (entryKind[entry] === CALL) {
        const twin = previousTwin[i]!
        if (twin >= 0 && !linearized.has(twin)) {
          // Its twin called earlier is not placed yet: placing this one first is redundant.
          entry = next[entry]!
          continue
        }
        let to = transitions.get(state, i)
        if (to === MISS) transitions.set(state, i, to = this.stepFrom(state, i))
        if (to === ILLEGAL) {
          entry = next[entry]!
          continue
        }
        const forced = to === state && readOnly[i] === 1
        linearized.add(i)
        const seen = memo.visit(linearized, to)
        if (seen === NEW) {
          frameEntry[depth] = entry
          frameState[depth] = state
          frameForced[depth] = forced ? 1 : 0
          depth++
          state = to
          list.unlink(entry)
          if (known[i]) list.unlink(returnEntry[i]!), remaining--
          if (this.knownTotal - remaining > this.bestKnown) {
            for (let d = this.divergedAt; d < depth; d++) best[d] = ops[entryOp[frameEntry[d]!]!]!
            best.length = depth
            this.bestKnown = this.knownTotal - remaining
            this.bestState = state
            this.divergedAt = depth
          }
          entry = next[0]!
          continue
        }
        linearized.delete(i)
        if (seen === NO_MEMORY) {
          status = "exhausted"
          this.reason = memo.failure
          break
        }
        if (!forced) {
          entry = next[entry]!
          continue
        }
        // A forced read whose configuration was explored (and failed): this one fails too.
      }
      // The return of an operation not yet linearized (or a failed forced read): what is placed
      // so far cannot be extended. Undo the last placement; if that was a forced read, its
      // parent configuration has failed as well, so keep undoing.
      for (;;) {
        if (depth === 0) {
          status = "violation"
          break search
        }
        depth--
        const e = frameEntry[depth]!
        state = frameState[depth]!
        const j = entryOp[e]!
        if (known[j]) list.relink(returnEntry[j]!), remaining++
        list.relink(e)
        linearized.delete(j)
        if (depth < this.divergedAt) this.divergedAt = depth
        entry = next[e]!
        if (frameForced[depth] === 0) break
      }
    }
    if (remaining === 0) status = "ok"
    this.entry = entry
    this.state = state
    this.remaining = remaining
    this.steps = steps
    this.depth = depth
    this.status = status
    return status
  }

  /** After a "violation": the longest linearizable prefix found and the possible states after it. */
  longestPrefix(): { readonly operations: ReadonlyArray<Operation<I, O>>; readonly statesAfter: ReadonlyArray<S> } {
    return { operations: this.best.slice(), statesAfter: statesOf(this.table.state(this.bestState)) }
  }
}
