/**
 * The user's state machine and the consumer that feeds it, one per node.
 *
 * Each node incarnation replays its committed log into a fresh state (`make()`), from index 1
 * through `committedFrom(1)`: a restarted node rebuilds its state the way a real consumer without
 * its own persistence would, from the node's snapshot (`restore`) and the entries after it. The
 * consumer also reports what it applied to the cluster `History`, which is how divergent committed
 * entries are caught, and can publish snapshots so compaction and InstallSnapshot get exercised.
 */
import { Cause, Effect, Stream, SubscriptionRef } from "effect"
import type { CommandEntry, Committed } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import { commandSignature } from "./History.js"
import type { History } from "./History.js"
import type { NodeGate } from "./NodeGate.js"

/**
 * A deterministic state machine under test. `apply` must be a pure function of the state and the
 * command (every node applies the same commands in the same order and must reach the same state);
 * it receives every committed command, duplicates of a retried proposal included — deduplicate by
 * `entry.dedupKey` (see `ClientSessionTable`) if your machine needs exactly-once. Raft's own
 * entries (no-ops, membership changes) never reach it.
 *
 * `snapshot` and `restore` are needed only with the cluster's `snapshotEvery` (or if the test
 * publishes snapshots itself): a node that is sent a snapshot, or restarts past its compaction
 * floor, rebuilds its state with `restore`.
 */
export interface StateMachine<S> {
  /** The empty state: every node incarnation starts here. */
  readonly make: () => S
  readonly apply: (state: S, command: Uint8Array, entry: CommandEntry) => S
  readonly snapshot?: (state: S) => Uint8Array
  readonly restore?: (bytes: Uint8Array) => S
}

/** The machine used when the test brings none: no state, only the applied index is tracked. */
export const NO_STATE_MACHINE: StateMachine<undefined> = { make: () => undefined, apply: (s) => s }

/** One node's consumer: state and applied index survive as objects across its incarnations. */
export class Applier<S> {
  state: S
  /** Index applied through, counting Raft's own entries and snapshots (what `awaitRead` needs). */
  index = 0
  private snapshotAt = 0

  private constructor(
    readonly id: NodeId,
    private readonly machine: StateMachine<S>,
    private readonly snapshotEvery: number | undefined,
    private readonly history: History,
    readonly applied: SubscriptionRef.SubscriptionRef<number>
  ) {
    this.state = machine.make()
  }

  static make<S>(
    id: NodeId,
    machine: StateMachine<S>,
    snapshotEvery: number | undefined,
    history: History
  ): Effect.Effect<Applier<S>> {
    return Effect.map(SubscriptionRef.make(0), (ref) => new Applier(id, machine, snapshotEvery, history, ref))
  }

  /**
   * Feeds a fresh incarnation: resets to the empty state, then applies `committedFrom(1)` until the
   * node closes. A paused node applies nothing. A throwing `apply`/`restore` stops this node's
   * consumer and is recorded as a violation (the state machine, not Raft, broke).
   */
  run(node: RaftNodeShape, gate: NodeGate): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      this.state = this.machine.make()
      this.index = 0
      this.snapshotAt = 0
      yield* SubscriptionRef.set(this.applied, 0)
      yield* node.committedFrom(1).pipe(
        Stream.runForEach((item) =>
          Effect.zipRight(
            gate.pass,
            Effect.suspend(() => {
              const snapshot = this.applyItem(item)
              return Effect.zipRight(
                SubscriptionRef.set(this.applied, this.index),
                snapshot === undefined ? Effect.void : node.publishSnapshot(snapshot)
              )
            })
          )
        ),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.sync(() =>
            this.history.violation(`the state machine of ${this.id} failed after index ${this.index}: ${Cause.pretty(cause)}`)
          )
        )
      )
    })
  }

  /** Applies one item; returns a snapshot to publish when one is due. */
  private applyItem(item: Committed): { readonly throughIndex: number; readonly state: Uint8Array } | undefined {
    switch (item._tag) {
      case "Entry": {
        const e = item.entry
        if (e.index <= this.index) return undefined
        this.state = this.machine.apply(this.state, e.command, e)
        this.history.onCommitted(this.id, e.index, commandSignature(e))
        this.index = e.index
        break
      }
      case "Internal":
        if (item.index <= this.index) return undefined
        this.history.onCommitted(this.id, item.index, "raft-internal")
        this.index = item.index
        break
      case "Install": {
        const restore = this.machine.restore
        if (restore === undefined) {
          throw new Error(`${this.id} was sent a snapshot but the state machine has no restore()`)
        }
        this.state = restore(item.snapshot.state)
        this.index = item.snapshot.throughIndex
        this.snapshotAt = this.index
        return undefined
      }
    }
    const every = this.snapshotEvery
    const snapshot = this.machine.snapshot
    if (every === undefined || snapshot === undefined || this.index - this.snapshotAt < every) return undefined
    this.snapshotAt = this.index
    return { throughIndex: this.index, state: snapshot(this.state) }
  }
}
