/**
 * `dumpState`: the whole simulated cluster as text, attached to every timeout, violation and churn
 * failure so that a red test says what the cluster looked like, not only that it was late.
 *
 * One row per node (process state, incarnation, role, term, leader, commit index, applied index,
 * last stored index, compaction floor, and for an `onSync` disk the batches not yet durable),
 * then the faults in force, the loom's counters, and the election history.
 */
import { Effect, Option } from "effect"
import type { InMemoryLoomShape } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import type { DurableState } from "../../../services/raft/RaftStorage.js"
import type { History } from "./History.js"
import type { Slot } from "./Slot.js"
import type { VirtualTimers } from "./VirtualTimers.js"

/** The faults the cluster's controls put in place since the last `heal`, in words. */
export interface NetworkNotes {
  faults: Array<string>
  conditions: string | undefined
}

export interface DumpSource<S> {
  readonly seed: number
  readonly slots: ReadonlyArray<Slot<S>>
  readonly loom: InMemoryLoomShape
  readonly timers: VirtualTimers
  readonly history: History
  readonly network: NetworkNotes
}

/** The last index a disk holds (its snapshot's when the log above it is empty). */
export const storedLastIndex = (state: DurableState): number =>
  state.entries.length > 0
    ? state.entries[state.entries.length - 1]!.index
    : state.snapshot?.meta.lastIncludedIndex ?? 0

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r) => "  " + r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd())
}

/** Renders the cluster state, headed by `reason`. */
export const dumpState = <S>(source: DumpSource<S>, reason: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    const rows: Array<Array<string>> = [
      ["node", "state", "inc", "role", "term", "leader", "commit", "applied", "stored", "floor", "unsynced"]
    ]
    for (const slot of source.slots) {
      const n = slot.current.raw
      const crashed = slot.status === "crashed"
      const stored = slot.disk.currentState()
      const leader = yield* n.leader.get
      rows.push([
        slot.id,
        slot.status,
        String(slot.current.number),
        crashed ? "-" : yield* n.role.get,
        String(crashed ? stored.hardState.term : yield* n.term.get),
        crashed ? "-" : Option.getOrElse(leader, () => "-"),
        crashed ? "-" : String(yield* n.commitIndex.get),
        String(slot.applier.index),
        String(storedLastIndex(stored)),
        String(stored.snapshot?.meta.lastIncludedIndex ?? 0),
        slot.disk.durability === "onSync" ? String(slot.disk.pendingBatches) : "-"
      ])
    }
    const stats = yield* source.loom.stats
    const d = stats.dropped
    const history = source.history
    const elections = source.slots.map((s) => {
      const c = history.countsOf(s.id)
      return `${s.id} ${c.campaigns}/${c.leaderships}`
    })
    const terms = [...history.leadersByTerm.entries()].sort((a, b) => a[0] - b[0]).slice(-8)
    const violations = history.violations
    return [
      `SimulatedCluster (seed ${source.seed}) at t=${source.timers.now()} ms: ${reason}`,
      ...table(rows),
      `network: ${source.network.faults.length === 0 ? "no partitions" : source.network.faults.join("; ")}` +
        (source.network.conditions === undefined ? "" : `; links: ${source.network.conditions}`),
      `loom: sent ${stats.sent}, delivered ${stats.delivered}, duplicated ${stats.duplicated}, ` +
        `reordered ${stats.reordered}, dropped cut ${d.cut} / random ${d.random} / overflow ${d.overflow} / ` +
        `budget ${d.budget} / torn ${d.torn}, in flight ${yield* source.loom.pendingDeliveries}`,
      `elections (campaigns/won): ${elections.join(", ")}; leaders of the last terms: ` +
        (terms.length === 0 ? "none" : terms.map(([t, ls]) => `t${t}=${[...ls].join("+")}`).join(" ")),
      `violations: ${violations.length === 0 ? "none" : "\n  - " + violations.join("\n  - ")}`
    ].join("\n")
  })
