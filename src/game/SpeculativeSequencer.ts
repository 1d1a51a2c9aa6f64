/**
 * `SpeculativeSequencer<S, A>`: optimistic state over a `TurnSequencer`.
 * A local `propose` is applied at once to a *speculative* state, so the UI answers without a
 * round trip; the *confirmed* state only ever folds committed actions, in log order, and is the
 * same on every peer.
 *
 * - confirm: when our own action commits, it leaves the pending buffer (it is now in confirmed);
 * - rollback: when a proposal fails (or its caller gives up), it leaves the buffer unapplied — if
 *   it commits after all, it arrives like anyone else's action;
 * - replay: the speculative state is always `pending` folded over `confirmed`, so another peer's
 *   commit is applied beneath our pending actions and they are replayed on top;
 * - reset: a `Reset(snapshot)` rebuilds confirmed with `game.fromSnapshot` and clears the buffer.
 *
 * Commits are filtered through a `ClientSessionTable` first, so a retried proposal that committed
 * twice is applied once (thesis §6.3). Our own commit is matched to its pending entry by dedup key
 * once `propose` has returned, and by its encoded bytes when the commit arrives first.
 */
import { Effect, Exit, Subscribable, SubscriptionRef, Stream } from "effect"
import type { Scope } from "effect"
import { sameDedupKey } from "../../services/raft/ClientId.js"
import type { DedupKey } from "../../services/raft/ClientId.js"
import type { ProposeOptions } from "../../services/raft/RaftNode.js"
import { ClientSessionTable } from "../raft/ClientSessionTable.js"
import type { IndexedAction, TurnEvent, TurnSequencer } from "./TurnSequencer.js"
import { awaitValue } from "./watch.js"

/** The game rules a speculative sequencer folds with. `apply` must be pure and deterministic. */
export interface SpeculativeGame<S, A> {
  readonly apply: (state: S, action: A) => S
  /** The state a snapshot's bytes describe, or `undefined` if they are unreadable. */
  readonly fromSnapshot: (bytes: Uint8Array) => S | undefined
}

/** Everything observable at one moment. */
export interface SpeculativeView<S> {
  readonly speculative: S
  readonly confirmed: S
  /** Committed actions applied to `confirmed` (duplicates excluded). */
  readonly confirmedCount: number
  readonly pendingCount: number
}

export interface SpeculativeSequencer<S, A> {
  readonly sequencer: TurnSequencer<A>
  readonly view: Subscribable.Subscribable<SpeculativeView<S>>
  readonly speculative: Subscribable.Subscribable<S>
  readonly confirmed: Subscribable.Subscribable<S>
  readonly confirmedCount: Subscribable.Subscribable<number>
  readonly pendingCount: Subscribable.Subscribable<number>
  /** Applies `action` speculatively at once, then proposes it; fails (rolled back) like `TurnSequencer.propose`. */
  readonly propose: TurnSequencer<A>["propose"]
  /** Waits until at least `n` committed actions are confirmed. */
  readonly awaitConfirmedCount: (n: number) => Effect.Effect<void>
  readonly stats: {
    readonly duplicates: number
    readonly rollbacks: number
    readonly resets: number
    readonly unreadableSnapshots: number
  }
}

interface Pending<A> {
  readonly action: A
  readonly bytes: Uint8Array
  key: DedupKey | undefined
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

const keyString = (k: DedupKey) => `${k.requestId}@${k.clientId}`

/**
 * Starts a speculative sequencer from `initial` over every committed action of `sequencer` (from
 * the start of the log), in the current scope.
 */
export const make = <S, A>(
  sequencer: TurnSequencer<A>,
  game: SpeculativeGame<S, A>,
  initial: S
): Effect.Effect<SpeculativeSequencer<S, A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    let confirmed = initial
    let confirmedCount = 0
    let pending: Array<Pending<A>> = []
    let table = ClientSessionTable.empty()
    /** Own commit keys that confirmed a pending entry by bytes before its `propose` returned. */
    const consumedByBytes = new Set<string>()
    const stats = { duplicates: 0, rollbacks: 0, resets: 0, unreadableSnapshots: 0 }

    const snapshotView = (): SpeculativeView<S> => ({
      speculative: pending.reduce((s, p) => game.apply(s, p.action), confirmed),
      confirmed,
      confirmedCount,
      pendingCount: pending.length
    })
    const view = yield* SubscriptionRef.make(snapshotView())
    // Computed under the ref's lock, so the last publish always carries the latest state.
    const publish = SubscriptionRef.update(view, () => snapshotView())

    const onCommitted = (indexed: IndexedAction<A>, ownClientId: string) => {
      if (!table.shouldApply(indexed.dedupKey)) {
        // Already applied: a retry that was logged twice. If it is ours, it is confirmed.
        stats.duplicates++
        const at = pending.findIndex((p) => p.key !== undefined && sameDedupKey(p.key, indexed.dedupKey))
        if (at >= 0) pending.splice(at, 1)
        return
      }
      confirmed = game.apply(confirmed, indexed.action)
      confirmedCount++
      if (indexed.dedupKey.clientId !== ownClientId) return
      let at = pending.findIndex((p) => p.key !== undefined && sameDedupKey(p.key, indexed.dedupKey))
      if (at < 0) {
        const bytes = sequencer.encode(indexed.action)
        if (bytes._tag === "Right") {
          at = pending.findIndex((p) => p.key === undefined && sameBytes(p.bytes, bytes.right))
          if (at >= 0) consumedByBytes.add(keyString(indexed.dedupKey))
        }
      }
      if (at >= 0) pending.splice(at, 1)
    }

    const onEvent = (event: TurnEvent<A>) =>
      Effect.gen(function*() {
        switch (event._tag) {
          case "Committed": {
            const own = yield* sequencer.node.clientId
            onCommitted(event.indexed, own)
            break
          }
          case "Reset": {
            const restored = game.fromSnapshot(event.snapshot.state)
            if (restored === undefined) {
              stats.unreadableSnapshots++
              yield* Effect.logError(`SpeculativeSequencer: unreadable snapshot through ${event.snapshot.throughIndex}`)
              break
            }
            stats.resets++
            confirmed = restored
            pending = []
            table = ClientSessionTable.empty()
            consumedByBytes.clear()
            break
          }
        }
        yield* publish
      })

    yield* sequencer.events.pipe(Stream.runForEach(onEvent), Effect.forkScoped)

    const propose = (action: A, options?: ProposeOptions) =>
      Effect.gen(function*() {
        const bytes = yield* sequencer.encode(action)
        const entry: Pending<A> = { action, bytes, key: undefined }
        pending.push(entry)
        yield* publish
        return yield* sequencer.propose(action, options).pipe(
          Effect.onExit((exit) =>
            Effect.gen(function*() {
              const at = pending.indexOf(entry)
              if (Exit.isSuccess(exit)) {
                const k = keyString(exit.value.dedupKey)
                // Its commit was already matched (by bytes, possibly to an identical twin): this
                // entry stays keyless and waits for the twin's commit.
                if (consumedByBytes.delete(k)) return
                if (at < 0) return
                const key = exit.value.dedupKey
                const mark = table.highWaterMark(key.clientId)
                if (mark !== undefined && mark >= key.requestId) {
                  // The key was applied before (the leader answered a retry with the earlier
                  // entry): nothing more will commit for it, so it is confirmed now.
                  pending.splice(at, 1)
                  yield* publish
                } else {
                  entry.key = key
                }
                return
              }
              if (at >= 0) {
                pending.splice(at, 1)
                stats.rollbacks++
                yield* publish
              }
            })
          )
        )
      })

    const self: SpeculativeSequencer<S, A> = {
      sequencer,
      view,
      speculative: Subscribable.map(view, (v) => v.speculative),
      confirmed: Subscribable.map(view, (v) => v.confirmed),
      confirmedCount: Subscribable.map(view, (v) => v.confirmedCount),
      pendingCount: Subscribable.map(view, (v) => v.pendingCount),
      propose,
      awaitConfirmedCount: (n) => awaitValue(view, (v) => (v.confirmedCount >= n ? true : undefined)),
      stats
    }
    return self
  })

/** `SpeculativeSequencer.make(sequencer, game, initial)`: see `make`. */
export const SpeculativeSequencer = { make }
