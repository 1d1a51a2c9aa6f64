/**
 * The safety checks of a simulated cluster: what the `History` recorded over the run (leaders per
 * term, committed items per index, state-machine failures) plus what must hold of each running
 * node right now. Read-only; call it whenever the test likes (typically after a fault and at the
 * end — `runSimulation` does the latter).
 */
import { Effect } from "effect"
import { storedLastIndex } from "./Dump.js"
import type { History } from "./History.js"
import type { Slot } from "./Slot.js"

/** Violations visible now, on top of `history.violations`. */
export const currentViolations = <S>(
  slots: ReadonlyArray<Slot<S>>,
  history: History
): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const found = [...history.violations]
    const leadersByTerm = new Map<number, Array<string>>()
    for (const slot of slots) {
      if (slot.status === "crashed") continue
      const n = slot.current.raw
      const commit = yield* n.commitIndex.get
      const floor = yield* n.compactionFloor.get
      const term = yield* n.term.get
      const stored = storedLastIndex(slot.disk.currentState())
      // Everything a node counts as committed must be in its own log (or snapshot): it persisted
      // the entries before acknowledging or counting them.
      if (commit > stored) found.push(`${slot.id} commitIndex ${commit} is beyond its last stored index ${stored}`)
      // Only a committed (applied) prefix may be compacted away.
      if (floor > commit) found.push(`${slot.id} compaction floor ${floor} is beyond its commitIndex ${commit}`)
      // The harness's consumer reads only committed items.
      if (slot.applier.index > commit) {
        found.push(`${slot.id} applied ${slot.applier.index}, beyond its commitIndex ${commit}`)
      }
      if ((yield* n.role.get) === "Leader") leadersByTerm.set(term, [...(leadersByTerm.get(term) ?? []), slot.id])
    }
    for (const [term, leaders] of leadersByTerm) {
      if (leaders.length > 1) found.push(`running nodes ${leaders.join(", ")} all lead term ${term}`)
    }
    return found
  })
