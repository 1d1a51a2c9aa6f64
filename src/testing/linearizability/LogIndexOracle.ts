/**
 * A cheap, exact oracle for white-box histories in which every write reports the log index it was
 * committed at and every read reports the index it was served at (its fence: read index / applied
 * index). The log then *is* the linearization, so no search is needed — O(n log n).
 *
 * It checks (reference §2.5, "a second, exact and cheap oracle"):
 * 1. write indices are unique (two writes cannot share a log slot);
 * 2. real-time order: if A returned before B was invoked then A is ordered before B, where a
 *    write sits at its index i and a read at fence f sits just after the write at f (f + ½):
 *    write→write needs i_A < i_B, write→read i_A ≤ f_B, read→write f_A < i_B, read→read f_A ≤ f_B;
 * 3. each read returns the value of the latest write to its key with index ≤ its fence (or absent).
 *
 * It trusts the indices the system reports — a system that lies about indices consistently can
 * pass it — so run the black-box search ({@link checkLinearizability}) as well.
 */

/**
 * One operation with its log position. Map a successful CAS to a write and a failed CAS to a read.
 * A write with an unknown outcome has `return: Infinity`; give its `index` if the harness knows it
 * was committed (white-box), omit it if it never was.
 */
export type IndexedOperation =
  | {
    readonly kind: "write"
    readonly id: number
    readonly key: string
    /** `null` for a delete. */
    readonly value: string | null
    readonly call: number
    readonly return: number
    readonly index?: number
  }
  | {
    readonly kind: "read"
    readonly id: number
    readonly key: string
    readonly value: string | null
    readonly call: number
    readonly return: number
    /** The log index the read was served at; it saw every write with index ≤ fence. */
    readonly index: number
  }

/** The oracle's verdict; `violations` lists human-readable problems (at most 50). */
export type LogIndexResult =
  | { readonly result: "ok" }
  | { readonly result: "violation"; readonly violations: ReadonlyArray<string> }

const MAX_VIOLATIONS = 50

const describe = (op: IndexedOperation): string => {
  const v = op.value === null ? "absent" : JSON.stringify(op.value)
  const ret = op.return === Infinity ? "never returned" : `return ${op.return}`
  const at = op.index === undefined ? "no index" : op.kind === "write" ? `index ${op.index}` : `fence ${op.index}`
  return `#${op.id} ${op.kind} ${JSON.stringify(op.key)} ${v} (${at}; call ${op.call}, ${ret})`
}

/**
 * Runs the three checks above. Failure modes: a completed write without an index is reported as
 * a violation (the system acknowledged a write it cannot place); unknown-outcome reads should not
 * be passed (they have no output to check).
 */
export const checkLogIndexes = (operations: ReadonlyArray<IndexedOperation>): LogIndexResult => {
  const violations: Array<string> = []
  const report = (message: string) => {
    if (violations.length < MAX_VIOLATIONS) violations.push(message)
  }

  // 1. unique write indices; collect writes per key, sorted by index, for check 3.
  const byIndex = new Map<number, IndexedOperation>()
  const writesByKey = new Map<string, Array<IndexedOperation & { readonly index: number }>>()
  for (const op of operations) {
    if (op.kind !== "write") continue
    if (op.index === undefined) {
      if (op.return !== Infinity) report(`completed write has no log index: ${describe(op)}`)
      continue
    }
    const other = byIndex.get(op.index)
    if (other !== undefined) report(`two writes at log index ${op.index}: ${describe(other)} and ${describe(op)}`)
    byIndex.set(op.index, op)
    const list = writesByKey.get(op.key)
    const placed = { ...op, index: op.index }
    if (list === undefined) writesByKey.set(op.key, [placed])
    else list.push(placed)
  }
  for (const list of writesByKey.values()) list.sort((a, b) => a.index - b.index)

  // 2. real time: sweep calls and returns in time order (calls first on ties: touching = concurrent),
  // keeping the highest position among operations that already returned.
  const position = (op: IndexedOperation): number | undefined =>
    op.index === undefined ? undefined : op.kind === "write" ? op.index : op.index + 0.5
  type Ev = { readonly time: number; readonly isReturn: boolean; readonly op: IndexedOperation; readonly pos: number }
  const events: Array<Ev> = []
  for (const op of operations) {
    const pos = position(op)
    if (pos === undefined) continue
    events.push({ time: op.call, isReturn: false, op, pos })
    if (op.return !== Infinity) events.push({ time: op.return, isReturn: true, op, pos })
  }
  events.sort((a, b) => a.time - b.time || Number(a.isReturn) - Number(b.isReturn))
  let latest: Ev | undefined
  for (const ev of events) {
    if (ev.isReturn) {
      if (latest === undefined || ev.pos > latest.pos) latest = ev
    } else if (latest !== undefined && ev.pos < latest.pos) {
      report(`real-time order broken: ${describe(latest.op)} returned before ${describe(ev.op)} was invoked, but is ordered after it`)
    }
  }

  // 3. reads see the latest write at or below their fence.
  for (const op of operations) {
    if (op.kind !== "read") continue
    const list = writesByKey.get(op.key) ?? []
    let lo = 0
    let hi = list.length // first write with index > fence
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (list[mid]!.index <= op.index) lo = mid + 1
      else hi = mid
    }
    const expected = lo === 0 ? null : list[lo - 1]!.value
    if (expected !== op.value) {
      const source = lo === 0 ? "no write at or below the fence" : `latest write at or below the fence: ${describe(list[lo - 1]!)}`
      report(`read returned ${op.value === null ? "absent" : JSON.stringify(op.value)}, expected ${expected === null ? "absent" : JSON.stringify(expected)} (${source}): ${describe(op)}`)
    }
  }
  return violations.length === 0 ? { result: "ok" } : { result: "violation", violations }
}
