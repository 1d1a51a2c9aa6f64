/** The usage example of `SimulatedCluster.make`, verbatim but for the import path: it must keep working. */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SimulatedCluster } from "../../../src/testing/effect/index.js"

// The user's state machine: a counter that adds each command's first byte.
const counter = { make: () => 0, apply: (n: number, command: Uint8Array) => n + command[0]! }

it.scoped("the counter survives a leader crash", () =>
  Effect.gen(function*() {
    const cluster = yield* SimulatedCluster.make({ size: 3, seed: 7, machine: counter })
    const leader = yield* cluster.awaitLeader()
    yield* cluster.proposeOnLeader(Uint8Array.of(2))
    yield* cluster.crash(leader)
    const entry = yield* cluster.proposeOnLeader(Uint8Array.of(3)) // the other two elect, then commit
    yield* cluster.restart(leader)
    yield* cluster.awaitCommit(entry.index, { on: cluster.ids })
    for (const id of cluster.ids) expect(cluster.appliedState(id)).toBe(5)
    yield* cluster.checkInvariants
    yield* cluster.checkChurn({ maxElections: 3 })
  }))
