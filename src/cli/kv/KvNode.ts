/**
 * A Raft node serving the built-in key-value store: it applies the node's committed stream to a
 * `KvStore`, publishes snapshots as the log grows, and answers writes (through the log), reads
 * (linearizable through a read fence, or local) and watches (from the store's change events).
 *
 * Writes may be made on any node (a follower forwards its proposal to the leader) and return
 * once this node applied them, with the result every replica computed. A linearizable read asks
 * for a read fence (thesis §6.4) — from any role — and waits until this node applied through it.
 *
 * Failure modes: a node that is closed answers `KvUnavailable`; a write whose leader lost its
 * term is `OutcomeUnknown` (retry with the same request id); a command over the payload budget
 * is `CommandTooLarge`. A snapshot that cannot be restored stops this store (the node is then
 * reported failed, never serving stale answers).
 */
import { Chunk, Deferred, Effect, Either, Option, Stream, SubscriptionRef } from "effect"
import type { Scope, Subscribable } from "effect"
import type { Committed } from "../../../services/raft/LogEntry.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import { encodeCommand, keyProblem } from "./KvCommand.js"
import type { KvCommand, KvResult } from "./KvCommand.js"
import { BadRequest, CommandTooLarge, KvUnavailable, OutcomeUnknown, WatchCompacted } from "./KvErrors.js"
import { KvStore } from "./KvStore.js"
import type { KvEvent, KvValue } from "./KvStore.js"

/** Publish a snapshot after this many applied indices, unless told otherwise. */
export const DEFAULT_SNAPSHOT_EVERY = 1000

export interface KvNodeOptions {
  /** Publish a snapshot each time this many indices were applied since the last one. Default 1000. */
  readonly snapshotEvery?: number
}

/** The answer of a read: the value (if any) as of applied index `index`. */
export interface KvRead {
  readonly value: KvValue | undefined
  readonly index: number
}

/** What a watch selects: changes from index `from` (default: from now), of keys with `prefix` (default all). */
export interface WatchOptions {
  readonly from?: number
  readonly prefix?: string
}

export type KvWriteError = KvUnavailable | OutcomeUnknown | CommandTooLarge | BadRequest
export type KvReadError = KvUnavailable | BadRequest

export interface KvNodeShape {
  readonly id: string
  readonly raft: RaftNodeShape
  /** The store (read it; never apply to it). */
  readonly store: KvStore
  /** The store's applied index. */
  readonly applied: Subscribable.Subscribable<number>
  /** Why the store stopped applying, if it did. */
  readonly failure: Effect.Effect<Option.Option<string>>
  /** Proposes `command` and returns what applying it did. */
  readonly write: (command: KvCommand) => Effect.Effect<KvResult, KvWriteError>
  /** Reads `key`: `linearizable` through a read fence, `local` from this replica now. */
  readonly get: (key: string, consistency: "linearizable" | "local") => Effect.Effect<KvRead, KvReadError>
  /** Lists keys under `prefix` (the same consistency choice). */
  readonly list: (
    prefix: string,
    limit: number,
    consistency: "linearizable" | "local"
  ) => Effect.Effect<{ readonly entries: ReadonlyArray<readonly [string, KvValue]>; readonly index: number }, KvReadError>
  /** Change events as they are applied here (see `WatchOptions`); fails with `WatchCompacted`. */
  readonly watch: (options: WatchOptions) => Stream.Stream<KvEvent, WatchCompacted | KvUnavailable>
  /** Waits until the store applied `index`. */
  readonly awaitApplied: (index: number) => Effect.Effect<void, KvUnavailable>
}

/** Starts applying `raft`'s committed log to a fresh store, in the caller's scope. */
export const make = (raft: RaftNodeShape, options: KvNodeOptions = {}): Effect.Effect<KvNodeShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const store = new KvStore()
    const applied = yield* SubscriptionRef.make(0)
    const every = Math.max(1, options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY)
    let lastSnapshot = 0
    let failed: string | undefined
    /** Done when the store stopped applying: the node closed (its stream ended) or a failure. */
    const ended = yield* Deferred.make<void>()

    const applyChunk = (chunk: Chunk.Chunk<Committed>) =>
      Effect.gen(function*() {
        for (const item of chunk) {
          if (item._tag === "Install") {
            // Installing replaces the whole state: traced, as the issue of a slow catch-up often is.
            yield* Effect.sync(() => store.apply(item)).pipe(
              Effect.withSpan("kuilt.snapshot.install", {
                attributes: { "kuilt.node": raft.id, "kuilt.index": item.snapshot.throughIndex, "kuilt.bytes": item.snapshot.state.byteLength }
              })
            )
            lastSnapshot = item.snapshot.throughIndex
          } else {
            store.apply(item)
          }
        }
        yield* SubscriptionRef.set(applied, store.applied)
        if (store.applied - lastSnapshot >= every) {
          lastSnapshot = store.applied
          yield* raft.publishSnapshot({ throughIndex: store.applied, state: store.snapshot() })
        }
      })

    yield* raft.committedFrom(1).pipe(
      Stream.runForEachChunk(applyChunk),
      Effect.catchAllDefect((defect) =>
        Effect.gen(function*() {
          failed = `the key-value store stopped: ${defect instanceof Error ? defect.message : String(defect)}`
          yield* Effect.logError(failed).pipe(Effect.annotateLogs({ node: raft.id }))
        })
      ),
      Effect.ensuring(Deferred.succeed(ended, undefined)),
      Effect.forkScoped
    )

    const unavailable = () => new KvUnavailable({ reason: failed ?? `${raft.id} is stopped` })
    const awaitApplied = (index: number): Effect.Effect<void, KvUnavailable> =>
      Effect.suspend(() => {
        if (failed !== undefined) return Effect.fail(unavailable())
        if (store.applied >= index) return Effect.void
        return applied.changes.pipe(
          Stream.takeUntil((a) => a >= index),
          Stream.runDrain,
          Effect.raceFirst(Deferred.await(ended)),
          Effect.flatMap(() => (store.applied >= index ? Effect.void : Effect.fail(unavailable())))
        )
      })

    const write = (command: KvCommand): Effect.Effect<KvResult, KvWriteError> =>
      Effect.gen(function*() {
        const problem = keyProblem(command.key)
        if (problem !== undefined) return yield* new BadRequest({ reason: problem })
        if (failed !== undefined) return yield* unavailable()
        const entry = yield* raft.propose(encodeCommand(command)).pipe(
          Effect.catchTags({
            NotLeader: (e) => Effect.fail(new KvUnavailable({ reason: e.reason })),
            LeadershipLost: (e) => Effect.fail(new OutcomeUnknown({ reason: e.message })),
            PayloadTooLarge: (e) => Effect.fail(new CommandTooLarge({ bytes: e.payloadBytes, budget: e.budgetBytes }))
          })
        )
        yield* awaitApplied(entry.index)
        const result = store.resultAt(entry.index)
        // Evicted only if far more than the result window was applied meanwhile.
        return result ?? ({ _tag: "Invalid", revision: entry.index, reason: "result no longer held; the command was applied" } as const)
      })

    const fence = (consistency: "linearizable" | "local"): Effect.Effect<number, KvUnavailable> =>
      consistency === "local"
        ? (failed !== undefined ? Effect.fail(unavailable()) : Effect.sync(() => store.applied))
        : raft.readFence.pipe(
          Effect.catchTags({
            NotLeader: (e) => Effect.fail(new KvUnavailable({ reason: e.reason })),
            LeadershipLost: (e) => Effect.fail(new KvUnavailable({ reason: `${e.message}; retry` }))
          }),
          Effect.tap(awaitApplied)
        )

    const get = (key: string, consistency: "linearizable" | "local"): Effect.Effect<KvRead, KvReadError> =>
      Effect.gen(function*() {
        const problem = keyProblem(key)
        if (problem !== undefined) return yield* new BadRequest({ reason: problem })
        yield* fence(consistency)
        return { value: store.get(key), index: store.applied }
      })

    const list = (prefix: string, limit: number, consistency: "linearizable" | "local") =>
      Effect.gen(function*() {
        yield* fence(consistency)
        return { entries: store.list(prefix, limit), index: store.applied }
      })

    const watch = (o: WatchOptions): Stream.Stream<KvEvent, WatchCompacted | KvUnavailable> =>
      Stream.unwrap(Effect.sync(() => {
        const prefix = o.prefix ?? ""
        const start = o.from ?? store.applied + 1
        let cursor = start
        return applied.changes.pipe(
          Stream.mapEffect((): Effect.Effect<ReadonlyArray<KvEvent>, WatchCompacted | KvUnavailable> => {
            if (failed !== undefined) return Effect.fail(unavailable())
            const through = store.applied
            if (through < cursor) return Effect.succeed([])
            const since = store.eventsSince(cursor)
            if (Either.isLeft(since)) return Effect.fail(new WatchCompacted({ from: cursor, first: since.left }))
            cursor = through + 1
            return Effect.succeed(since.right.filter((e) => e.index <= through && e.key.startsWith(prefix)))
          }),
          Stream.flattenIterables,
          Stream.interruptWhen(Effect.zipRight(Deferred.await(ended), Effect.suspend(() => Effect.fail(unavailable()))))
        )
      }))

    const node: KvNodeShape = {
      id: raft.id,
      raft,
      store,
      applied,
      failure: Effect.sync(() => Option.fromNullable(failed)),
      write,
      get,
      list,
      watch,
      awaitApplied
    }
    return node
  })

/** `KvNode.make`: see `make`. */
export const KvNode = { make, DEFAULT_SNAPSHOT_EVERY }
