/**
 * A user-written `RaftStorage` on `@effect/platform`'s `KeyValueStore`: the same node state on any
 * store that offers one — memory, files (`NodeKeyValueStore.layerFileSystem(dir)`), a browser's
 * `localStorage` (`BrowserKeyValueStore`), or your own. It passes kuilt's RaftStorage conformance
 * suite (test/examples/custom-storage.test.ts runs it from `kuilt/testing`).
 *
 * Layout: a journal and two checkpoint slots.
 * - `journal/<seq>`: one key per `write`, holding that turn's whole `WriteBatch`. A key-value store
 *   sets one key as a unit, so a batch is atomic: after a crash it is there whole or not at all
 *   (a torn last value does not decode and is ignored: its write never succeeded).
 * - `checkpoint/0`, `checkpoint/1`: every `checkpointEvery` writes, the whole state goes to the older
 *   slot; then the journal keys it covers are removed. A crash while a slot is being written leaves
 *   the other slot and the journal after it, so `make` always finds a consistent state.
 *
 * Durability is the store's: `write` succeeds once `set` returned. A file store survives a process
 * crash; whether it survives a power loss depends on whether its `set` syncs. Batches are checked
 * with kuilt's `validateWriteBatch` before anything is written, and the state read back at start
 * with `validateDurableState`, as the built-in storages do.
 */
import { KeyValueStore } from "@effect/platform"
import { Effect, Either, Layer, Option, Schema } from "effect"
import {
  appendStart,
  CorruptDurableState,
  RaftStorage,
  StorageError,
  validateDurableState,
  validateWriteBatch
} from "kuilt"
import type { DurableState, LogEntry, RaftStorageShape, StoredLogView, WriteBatch } from "kuilt"
import { Checkpoint, JournalRecord } from "./JournalRecords.js"

export interface KeyValueRaftStorageOptions {
  /** Writes between two checkpoints (default 1000). Smaller: faster starts, more rewriting. */
  readonly checkpointEvery?: number
}

/** The storage plus the store it lives in (a harness reopens a node over the same store). */
export interface KeyValueRaftStorage extends RaftStorageShape {
  readonly store: KeyValueStore.KeyValueStore
}

const journalKey = (seq: number) => `journal/${seq}`
const slotKey = (slot: number) => `checkpoint/${slot}`

/** The state the storage mirrors in memory: exactly what a restart would read back. */
interface Image {
  hardState: DurableState["hardState"]
  leaderForTerm: DurableState["leaderForTerm"]
  snapshot: DurableState["snapshot"]
  /** Contiguous; may start at or below the snapshot. */
  log: Array<LogEntry>
}

const emptyImage = (): Image => ({ hardState: { term: 0, votedFor: null }, leaderForTerm: null, snapshot: null, log: [] })

const firstIndex = (image: Image) => image.log[0]?.index
const lastIndex = (image: Image) => image.log.at(-1)?.index

/** Applies a validated batch in the contract's order: snapshot, truncate, append, hard state, leader, discard. */
const apply = (image: Image, batch: WriteBatch): void => {
  if (batch.snapshot !== undefined) image.snapshot = batch.snapshot
  const first = firstIndex(image)
  if (batch.truncateFrom !== undefined && first !== undefined) {
    image.log.length = Math.max(0, Math.min(image.log.length, batch.truncateFrom - first))
  }
  if (batch.append !== undefined && batch.append.length > 0) {
    // Entries all below a newer snapshot go, so the log stays one contiguous run.
    if (appendStart(lastIndex(image), image.snapshot?.meta.lastIncludedIndex ?? 0).dropsStale) image.log = []
    image.log.push(...batch.append)
  }
  if (batch.hardState !== undefined) image.hardState = batch.hardState
  if (batch.leaderForTerm !== undefined) image.leaderForTerm = batch.leaderForTerm
  if (batch.discardThrough !== undefined) {
    const through = batch.discardThrough
    image.log = image.log.filter((e) => e.index > through)
  }
}

const viewOf = (image: Image): StoredLogView => ({
  hardState: image.hardState,
  leaderForTerm: image.leaderForTerm,
  snapshot: image.snapshot?.meta ?? null,
  firstIndex: firstIndex(image),
  lastIndex: lastIndex(image),
  termAt: (index) => image.log[index - firstIndex(image)!]!.term
})

// Readers get copies, so mutating a loaded array never changes what is stored.
const copyEntry = (e: LogEntry): LogEntry => (e._tag === "Command" ? { ...e, command: e.command.slice() } : e)
const durableState = (image: Image): DurableState => {
  const above = image.snapshot?.meta.lastIncludedIndex ?? 0
  return {
    hardState: image.hardState,
    leaderForTerm: image.leaderForTerm,
    snapshot: image.snapshot === null ? null : { meta: image.snapshot.meta, state: image.snapshot.state.slice() },
    entries: image.log.filter((e) => e.index > above).map(copyEntry)
  }
}

const storageError = (reason: string) => (cause: unknown) => new StorageError({ reason, cause })

/** Reads the newest valid checkpoint, if any, and the slot it is in. */
const readCheckpoint = (store: KeyValueStore.KeyValueStore) =>
  Effect.gen(function*() {
    let best: { readonly slot: number; readonly checkpoint: Checkpoint } | undefined
    for (const slot of [0, 1]) {
      const text = yield* store.get(slotKey(slot)).pipe(Effect.mapError(storageError(`reading ${slotKey(slot)}`)))
      if (Option.isNone(text)) continue
      // A slot that does not decode was being rewritten when the process died: the other one holds.
      const decoded = Schema.decodeUnknownOption(Checkpoint)(text.value)
      if (Option.isSome(decoded) && (best === undefined || decoded.value.throughSeq > best.checkpoint.throughSeq)) {
        best = { slot, checkpoint: decoded.value }
      }
    }
    return best
  })

/**
 * Opens the storage kept in `store`: the newest checkpoint, then every journal record after it.
 * Fails with `CorruptDurableState` when a record in the middle of the journal does not decode or
 * the state read back is inconsistent, and with `StorageError` when the store fails.
 */
export const make = (
  store: KeyValueStore.KeyValueStore,
  options: KeyValueRaftStorageOptions = {}
): Effect.Effect<KeyValueRaftStorage, StorageError | CorruptDurableState> =>
  Effect.gen(function*() {
    const checkpointEvery = options.checkpointEvery ?? 1000
    const found = yield* readCheckpoint(store)
    const image: Image = found === undefined ? emptyImage() : {
      hardState: found.checkpoint.hardState,
      leaderForTerm: found.checkpoint.leaderForTerm,
      snapshot: found.checkpoint.snapshot,
      log: [...found.checkpoint.log]
    }
    let olderSlot = found === undefined ? 0 : 1 - found.slot
    let seq = found?.checkpoint.throughSeq ?? 0
    let sinceCheckpoint = 0
    // Replay the journal after the checkpoint, up to the first missing key.
    while (true) {
      const text = yield* store.get(journalKey(seq + 1)).pipe(Effect.mapError(storageError("reading the journal")))
      if (Option.isNone(text)) break
      const record = Schema.decodeUnknownOption(JournalRecord)(text.value)
      if (Option.isNone(record) || record.value.seq !== seq + 1) {
        // The last record torn by a crash is a write that never succeeded; anything after it is not.
        const next = yield* store.has(journalKey(seq + 2)).pipe(Effect.mapError(storageError("reading the journal")))
        if (next) return yield* new CorruptDurableState({ reason: `journal record ${seq + 1} is unreadable` })
        yield* store.remove(journalKey(seq + 1)).pipe(Effect.mapError(storageError("dropping a torn record")))
        break
      }
      apply(image, record.value.batch)
      seq += 1
      sinceCheckpoint += 1
    }
    yield* Either.match(validateDurableState(durableState(image)), {
      onLeft: (e) => Effect.fail(e),
      onRight: () => Effect.void
    })

    // Writes are serialized; after a failed one the instance refuses the rest (fail-stop: it
    // cannot know what the store kept). Reopen to go on.
    const lock = yield* Effect.makeSemaphore(1)
    let broken: StorageError | undefined

    const checkpoint = Effect.gen(function*() {
      const { hardState, leaderForTerm, snapshot, log } = image
      const value = yield* Schema.encode(Checkpoint)({ throughSeq: seq, hardState, leaderForTerm, snapshot, log }).pipe(
        Effect.mapError(storageError("encoding a checkpoint"))
      )
      yield* store.set(slotKey(olderSlot), value).pipe(Effect.mapError(storageError("writing a checkpoint")))
      olderSlot = 1 - olderSlot
      for (let s = seq - sinceCheckpoint + 1; s <= seq; s++) {
        yield* store.remove(journalKey(s)).pipe(Effect.mapError(storageError("pruning the journal")))
      }
      sinceCheckpoint = 0
    })

    const persist = (batch: WriteBatch) =>
      Effect.gen(function*() {
        const value = yield* Schema.encode(JournalRecord)({ seq: seq + 1, batch }).pipe(
          Effect.mapError(storageError("encoding a batch"))
        )
        // Keep what was written, decoded afresh: later changes to the caller's arrays cannot reach it.
        const stored = yield* Schema.decode(JournalRecord)(value).pipe(Effect.mapError(storageError("decoding a batch")))
        yield* store.set(journalKey(seq + 1), value).pipe(Effect.mapError(storageError("writing a batch")))
        apply(image, stored.batch)
        seq += 1
        sinceCheckpoint += 1
        if (sinceCheckpoint >= checkpointEvery) yield* checkpoint
      }).pipe(Effect.tapError((e) => Effect.sync(() => (broken ??= e))))

    const write = (batch: WriteBatch): Effect.Effect<void, StorageError> =>
      lock.withPermits(1)(Effect.suspend(() => {
        if (broken !== undefined) return Effect.fail(broken)
        // A batch the contract forbids is refused before anything is written; the storage goes on.
        const valid = validateWriteBatch(viewOf(image), batch)
        return Either.isLeft(valid) ? Effect.fail(valid.left) : persist(batch)
      }))

    return {
      store,
      load: Effect.sync(() => durableState(image)),
      write,
      entries: (from, toExclusive) =>
        Effect.sync(() => image.log.filter((e) => e.index >= from && e.index < toExclusive).map(copyEntry))
    }
  })

/** The storage as a `RaftStorage` Layer over the `KeyValueStore` in context. */
export const layer = (
  options?: KeyValueRaftStorageOptions
): Layer.Layer<RaftStorage, StorageError | CorruptDurableState, KeyValueStore.KeyValueStore> =>
  Layer.effect(RaftStorage, Effect.flatMap(KeyValueStore.KeyValueStore, (store) => make(store, options)))
