/**
 * This node's copy of the runner table: one fiber folds the node's committed log into a
 * `RunnerTable` (from the start, or from the latest snapshot), publishes the applied index, and
 * every `snapshotEvery` entries hands the table to the node as a snapshot so the log stays short.
 *
 * It also notes when it applied the latest accepted tick, on this process's monotonic clock: the
 * leader measures the next tick from there (`LeaderClock.ts`).
 */
import { Clock, Effect, Stream, SubscriptionRef } from "effect"
import type { Scope, Subscribable } from "effect"
import { committedIndex } from "../../services/raft/LogEntry.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import { decodeCommand } from "./RunnerCommand.js"
import { RunnerTable } from "./RunnerTable.js"

export interface RunnerTableReplica {
  /** The table as applied so far (replaced wholesale when a snapshot is installed). */
  readonly table: () => RunnerTable
  /** The index this replica has applied through. */
  readonly applied: Subscribable.Subscribable<number>
  /** Waits until the replica has applied through `index`. */
  readonly awaitApplied: (index: number) => Effect.Effect<void>
  /** The latest accepted tick's index and when (monotonic nanoseconds) this replica applied it. */
  readonly lastTick: () => { readonly index: number; readonly appliedAtNanos: bigint }
  /** Committed entries that were not runner-table commands (skipped by every replica alike). */
  readonly skipped: () => number
}

export interface ReplicaOptions {
  /** Entries applied between two snapshots. */
  readonly snapshotEvery: number
}

/**
 * Starts the replica's fiber in the current scope. The fiber dies (and the storage stops
 * answering) on a snapshot it cannot read: a table it cannot trust must not grant locks.
 */
export const make = (
  node: RaftNodeShape,
  options: ReplicaOptions
): Effect.Effect<RunnerTableReplica, never, Scope.Scope> =>
  Effect.gen(function*() {
    let table = new RunnerTable()
    let lastTick = { index: 0, appliedAtNanos: yield* Clock.currentTimeNanos }
    let skipped = 0
    let sinceSnapshot = 0
    const applied = yield* SubscriptionRef.make(0)

    yield* node.committedFrom(1).pipe(
      Stream.runForEach((committed) =>
        Effect.gen(function*() {
          const index = committedIndex(committed)
          switch (committed._tag) {
            case "Install": {
              const restored = RunnerTable.fromSnapshot(committed.snapshot.state)
              if (restored === undefined) {
                return yield* Effect.dieMessage(`the snapshot through index ${index} is not a runner table`)
              }
              table = restored
              lastTick = { index: table.lastTickIndex, appliedAtNanos: yield* Clock.currentTimeNanos }
              sinceSnapshot = 0
              break
            }
            case "Entry": {
              const command = decodeCommand(committed.entry.command)
              if (command === undefined) {
                skipped += 1
              } else if (table.apply(index, command)) {
                lastTick = { index, appliedAtNanos: yield* Clock.currentTimeNanos }
              }
              sinceSnapshot += 1
              break
            }
            case "Internal":
              sinceSnapshot += 1
              break
          }
          yield* SubscriptionRef.set(applied, index)
          if (sinceSnapshot >= options.snapshotEvery) {
            sinceSnapshot = 0
            yield* node.publishSnapshot({ throughIndex: index, state: table.toSnapshot() })
          }
        })
      ),
      Effect.tapErrorCause((cause) => Effect.logError("the runner table stopped applying the log", cause)),
      Effect.forkScoped
    )

    return {
      table: () => table,
      applied,
      awaitApplied: (index) =>
        Effect.asVoid(Stream.runHead(Stream.filter(applied.changes, (n) => n >= index))),
      lastTick: () => lastTick,
      skipped: () => skipped
    }
  })
