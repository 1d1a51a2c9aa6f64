/**
 * `RaftStorage` over IndexedDB, for Raft nodes running in browsers (and workers).
 *
 * Meant to be imported as a namespace (`import { IndexedDbRaftStorage } from "kuilt/browser"`):
 * `IndexedDbRaftStorage.make({ databaseName })`, `IndexedDbRaftStorage.layer(...)`,
 * `IndexedDbRaftStorage.deleteDatabase(...)`.
 *
 * Layout (one database per node; `SCHEMA_VERSION` 1, migrated in `onupgradeneeded`):
 * - `meta`: the hard state, the leader-for-term record, the snapshot's metadata, the log's shape
 *   (bounds and term runs, see `IndexedDbRaftStorageLogShape.ts`), a format marker and an owner
 *   counter;
 * - `entries`: one record per log entry, keyed by its index;
 * - `snapshot`: the snapshot's state bytes.
 * Raft records are stored encoded with a CRC-32 each (`IndexedDbRaftStorageCodec.ts`).
 *
 * Guarantees:
 * - each `WriteBatch` is one `readwrite` transaction opened with `durability: "strict"`, and its
 *   Effect succeeds only on the transaction's `complete` event: atomic and flushed to disk;
 * - batches are validated first with the shared `validateWriteBatch` (against an in-memory mirror
 *   of the small records, so no read precedes a write) and refused with `StorageError` when
 *   inconsistent; writes are serialised, one transaction at a time;
 * - `load` checks every checksum, that the stored entries are exactly the recorded contiguous
 *   range with the recorded terms, the snapshot's bytes, and `validateDurableState`; any damage
 *   fails it with `CorruptDurableState` (and later writes with `StorageError`);
 * - one writer per database: opening an instance bumps the owner counter, and every write checks
 *   it inside its own transaction, so an instance superseded by a reopen or by the same node
 *   opened in another tab fails its writes with `StorageError` instead of interleaving them;
 * - every IndexedDB failure (quota, a newer schema version, a blocked upgrade, a closed
 *   connection, an aborted transaction) is a `StorageError`; nothing throws.
 */
import { Effect, Either, Layer } from "effect"
import type { Scope } from "effect"
import type { LogEntry } from "../../../../services/raft/LogEntry.js"
import { CorruptDurableState, StorageError } from "../../../../services/raft/RaftErrors.js"
import { RaftStorage } from "../../../../services/raft/RaftStorage.js"
import type { DurableState, RaftStorageShape, WriteBatch } from "../../../../services/raft/RaftStorage.js"
import {
  encodeEntry,
  encodeHardState,
  encodeLeaderForTerm,
  encodeLogShape,
  encodeSnapshotMeta,
  decodeSnapshotMeta,
  type Sealed,
  seal,
  unseal
} from "./IndexedDbRaftStorageCodec.js"
import { crc32 } from "../../../../src/codec/Crc32.js"
import * as Idb from "./IndexedDbRaftStorageIdb.js"
import { type Mirror, planWrite, type WritePlan } from "./IndexedDbRaftStoragePlan.js"
import { checkEntry, checkLoad, checkMeta, KEY, loadFrom, type RawLoad, type RawMeta, STATE_KEY } from "./IndexedDbRaftStorageVerify.js"

export { SCHEMA_VERSION } from "./IndexedDbRaftStorageIdb.js"

/** Options of `IndexedDbRaftStorage.make`/`layer`: which database holds this node's state. */
export interface Options {
  /** The database holding this node's state; one per node and origin. */
  readonly databaseName: string
  /** The IndexedDB implementation (default `globalThis.indexedDB`). */
  readonly indexedDB?: IDBFactory
  /** Its key-range constructor (default `globalThis.IDBKeyRange`); pass it with a non-global `indexedDB`. */
  readonly IDBKeyRange?: typeof IDBKeyRange
}

/** The storage plus its database name and an explicit `close`. */
export interface IndexedDbRaftStorage extends RaftStorageShape {
  readonly databaseName: string
  /**
   * Closes the connection now (the scope also closes it). Idempotent; later calls fail with
   * `StorageError`. Reopening = `close`, then `make` with the same name: a node restart.
   */
  readonly close: Effect.Effect<void>
}

/**
 * Opens (creating or migrating) the database `options.databaseName` and returns a storage over
 * it; the connection closes with the scope. Fails with `StorageError` when IndexedDB is missing,
 * the database is newer or foreign, or the upgrade is blocked. Damaged content does not fail
 * `make`: it fails `load` with `CorruptDurableState`, so the node refuses to start.
 */
export const make = (options: Options): Effect.Effect<IndexedDbRaftStorage, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    const name = options.databaseName
    if (typeof name !== "string" || name.length === 0) {
      return yield* new StorageError({ reason: "databaseName must be a non-empty string" })
    }
    const factory = yield* Idb.resolveFactory(options.indexedDB)
    const ranges = yield* Idb.resolveKeyRange(options.IDBKeyRange)
    const db = yield* Effect.acquireRelease(Idb.openDatabase(factory, name), (db) => Effect.sync(() => db.close()))
    let closedReason: string | undefined
    // Another connection wants to delete or upgrade the database: step aside rather than block it.
    db.onversionchange = (event) => {
      closedReason = event.newVersion === null
        ? "closed because the database is being deleted"
        : `closed so that schema version ${event.newVersion} could be installed (by a newer version in another tab)`
      db.close()
    }
    db.onclose = () => {
      closedReason ??= "closed by the browser (storage cleared or a backend failure)"
    }
    const opened = yield* claim(db, name)
    let mirror: Mirror | undefined = Either.isRight(opened.meta) ? opened.meta.right.mirror : undefined
    let corrupt: string | undefined = Either.isLeft(opened.meta) ? opened.meta.left : undefined
    const owner = opened.owner
    const semaphore = yield* Effect.makeSemaphore(1)
    const where = `IndexedDB database ${JSON.stringify(name)}`

    const unusable = (): StorageError | undefined =>
      closedReason !== undefined
        ? new StorageError({ reason: `${where} is ${closedReason}` })
        : corrupt !== undefined
        ? new StorageError({ reason: `${where} holds corrupt durable state, refusing to use it: ${corrupt}` })
        : undefined

    const write = (batch: WriteBatch): Effect.Effect<void, StorageError> =>
      semaphore.withPermits(1)(Effect.suspend(() => {
        const refused = unusable()
        if (refused !== undefined) return Effect.fail(refused)
        const planned = planWrite(mirror!, batch)
        if (Either.isLeft(planned)) return Effect.fail(planned.left)
        const plan = planned.right
        if (isNoOp(plan)) return Effect.void
        let records: Records
        try {
          records = encodePlan(plan)
        } catch (e) {
          return Effect.fail(Idb.storageErrorOf(`encoding a batch for ${where}`, e))
        }
        return Idb.transact(db, storesOf(plan), "readwrite", `writing a batch to ${where}`, (tx, abort) => {
          issueWrites(tx, ranges, plan, records, owner, () =>
            abort(
              new StorageError({
                reason: `${where} was opened again (a reopen, or the same node in another tab); this instance may no longer write`
              })
            ))
          // Runs in the `complete` event: the mirror moves exactly when the batch is durable.
          return () => {
            mirror = plan.next
          }
        })
      }))

    const load: Effect.Effect<DurableState, StorageError | CorruptDurableState> = Effect.suspend(() => {
      if (closedReason !== undefined) return Effect.fail(unusable()!)
      return Effect.flatMap(readAll(db, ranges, `loading ${where}`), (raw) => {
        const checked = checkLoad(raw)
        if (Either.isRight(checked)) return Effect.succeed(checked.right)
        corrupt = checked.left
        return Effect.fail(new CorruptDurableState({ reason: `${where}: ${checked.left}` }))
      })
    })

    const entries = (from: number, toExclusive: number): Effect.Effect<ReadonlyArray<LogEntry>, StorageError> =>
      Effect.suspend(() => {
        if (closedReason !== undefined) return Effect.fail(unusable()!)
        const range = keyRange(ranges, from, toExclusive)
        if (range === undefined) return Effect.succeed([])
        return Effect.flatMap(readRange(db, range, `reading entries of ${where}`), ({ keys, values }) => {
          const out: Array<LogEntry> = []
          for (let k = 0; k < values.length; k++) {
            const entry = checkEntry(values[k], keys[k] as number, undefined)
            if (Either.isLeft(entry)) return Effect.fail(new StorageError({ reason: `${where}: ${entry.left}` }))
            out.push(entry.right)
          }
          return Effect.succeed(out)
        })
      })

    const close = Effect.sync(() => {
      closedReason ??= "closed"
      db.close()
    })
    return { databaseName: name, load, write, entries, close }
  })

/** `RaftStorage` on IndexedDB, closed with the layer's scope (see `make`). */
export const layer = (options: Options): Layer.Layer<RaftStorage, StorageError> => Layer.scoped(RaftStorage, make(options))

/**
 * Deletes the database `options.databaseName`: every durable Raft state of that node. Fails with
 * `StorageError` when an open connection blocks it (close the storage first).
 */
export const deleteDatabase = (options: Options): Effect.Effect<void, StorageError> =>
  Effect.flatMap(Idb.resolveFactory(options.indexedDB), (f) => Idb.deleteDatabase(f, options.databaseName))

// ---------------------------------------------------------------- opening

const isSafeCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/**
 * Reads the meta records and takes ownership of the database by bumping the owner counter, in
 * one transaction (so no write of an earlier owner can land between the read and the claim).
 */
const claim = (db: IDBDatabase, name: string) =>
  Idb.transact(db, [Idb.META], "readwrite", `opening IndexedDB database ${JSON.stringify(name)}`, (tx) => {
    const meta = tx.objectStore(Idb.META)
    const raw = readMeta(meta)
    let owner = 0
    const ownerRequest = meta.get(KEY.owner)
    ownerRequest.onsuccess = () => {
      const previous = ownerRequest.result
      owner = (isSafeCount(previous) ? previous : 0) + 1
      meta.put(owner, KEY.owner)
    }
    return () => ({ meta: checkMeta(raw.read()), owner })
  })

/** Issues gets for the meta store's Raft records; `read` collects them after completion. */
const readMeta = (meta: IDBObjectStore): { readonly snapshot: IDBRequest; readonly read: () => RawMeta } => {
  const format = meta.get(Idb.FORMAT_KEY)
  const hardState = meta.get(KEY.hardState)
  const leaderForTerm = meta.get(KEY.leaderForTerm)
  const snapshot = meta.get(KEY.snapshot)
  const log = meta.get(KEY.log)
  return {
    snapshot,
    read: () => ({
      format: format.result,
      hardState: hardState.result,
      leaderForTerm: leaderForTerm.result,
      snapshot: snapshot.result,
      log: log.result
    })
  }
}

// ---------------------------------------------------------------- reading

/** Everything `load` needs, in one read-only transaction (a consistent view). */
const readAll = (db: IDBDatabase, ranges: typeof IDBKeyRange, operation: string) =>
  Idb.transact<RawLoad>(db, Idb.ALL_STORES, "readonly", operation, (tx) => {
    const meta = readMeta(tx.objectStore(Idb.META))
    const entriesStore = tx.objectStore(Idb.ENTRIES)
    const state = tx.objectStore(Idb.SNAPSHOT).get(STATE_KEY)
    const keys = entriesStore.getAllKeys()
    // Entries covered by the snapshot are not loaded: where they start depends on the snapshot
    // record, so the range read is issued once that record is known (still in this transaction).
    let entriesFrom = 1
    let values: IDBRequest<Array<unknown>> | undefined
    const snapshot = meta.snapshot
    snapshot.onsuccess = () => {
      if (snapshot.result !== undefined) {
        const decoded = Either.flatMap(unseal(snapshot.result), decodeSnapshotMeta)
        // A damaged record fails the load anyway (checkLoad); read from 1 meanwhile.
        if (Either.isRight(decoded)) entriesFrom = loadFrom(decoded.right)
      }
      values = entriesStore.getAll(ranges.lowerBound(entriesFrom))
    }
    return () => ({ meta: meta.read(), state: state.result, keys: keys.result, entries: values!.result, entriesFrom })
  })

/** The key range of `from ≤ index < toExclusive` (any numbers; NaN and empty ranges give undefined). */
const keyRange = (ranges: typeof IDBKeyRange, from: number, toExclusive: number): IDBKeyRange | undefined => {
  if (!(from < toExclusive)) return undefined
  // Indices are integers: `index ≥ from` ⟺ `index ≥ ceil(from)`, and likewise for the bound.
  const lo = Math.max(1, Math.ceil(from))
  const hi = Math.ceil(toExclusive) - 1
  if (lo > Number.MAX_SAFE_INTEGER || hi < lo) return undefined
  return hi >= Number.MAX_SAFE_INTEGER ? ranges.lowerBound(lo) : ranges.bound(lo, hi)
}

const readRange = (db: IDBDatabase, range: IDBKeyRange, operation: string) =>
  Idb.transact(db, [Idb.ENTRIES], "readonly", operation, (tx) => {
    const store = tx.objectStore(Idb.ENTRIES)
    const keys = store.getAllKeys(range)
    const values = store.getAll(range)
    return () => ({ keys: keys.result, values: values.result })
  })

// ---------------------------------------------------------------- writing

/** A plan that touches nothing (an empty batch, an empty append, a truncation past the end, ...). */
const isNoOp = (plan: WritePlan): boolean =>
  plan.snapshot === undefined && plan.hardState === undefined && plan.leaderForTerm === undefined &&
  plan.append.length === 0 && !plan.logChanged

/**
 * The stores a plan touches: a transaction's scope decides which transactions it waits for, so a
 * plain append does not lock the snapshot store. `meta` always (the owner check).
 */
const storesOf = (plan: WritePlan): Array<string> => {
  const stores = [Idb.META]
  if (plan.append.length > 0 || plan.deleteFrom !== undefined || plan.clearLog || plan.deleteThrough !== undefined) {
    stores.push(Idb.ENTRIES)
  }
  if (plan.snapshot !== undefined) stores.push(Idb.SNAPSHOT)
  return stores
}

/** The sealed records of one plan, encoded before the transaction opens (encoding may throw). */
interface Records {
  readonly snapshotMeta: Sealed | undefined
  /** An exact-size copy: structured clone would store a view's whole underlying buffer. */
  readonly snapshotState: Uint8Array | undefined
  readonly entries: ReadonlyArray<Sealed>
  readonly hardState: Sealed | undefined
  readonly leaderForTerm: Sealed | undefined
  readonly log: Sealed | undefined
}

const encodePlan = (plan: WritePlan): Records => {
  const s = plan.snapshot
  return {
    snapshotMeta: s === undefined
      ? undefined
      : seal(encodeSnapshotMeta({ meta: s.meta, stateLength: s.state.length, stateCrc32: crc32(s.state) })),
    snapshotState: s?.state.slice(),
    entries: plan.append.map((e) => seal(encodeEntry(e))),
    hardState: plan.hardState === undefined ? undefined : seal(encodeHardState(plan.hardState)),
    leaderForTerm: plan.leaderForTerm === undefined ? undefined : seal(encodeLeaderForTerm(plan.leaderForTerm)),
    log: plan.logChanged ? seal(encodeLogShape(plan.next.log)) : undefined
  }
}

/**
 * Issues the plan's requests in the contract's order (requests of one transaction run in issue
 * order). The owner check is issued first; if another instance has claimed the database since,
 * its callback aborts the transaction, which discards every request issued after it.
 */
const issueWrites = (
  tx: IDBTransaction,
  ranges: typeof IDBKeyRange,
  plan: WritePlan,
  records: Records,
  owner: number,
  superseded: () => void
): void => {
  const meta = tx.objectStore(Idb.META)
  // Only in scope when the plan touches entries (see `storesOf`), so looked up lazily.
  const entries = () => tx.objectStore(Idb.ENTRIES)
  const ownerRequest = meta.get(KEY.owner)
  ownerRequest.onsuccess = () => {
    if (ownerRequest.result !== owner) superseded()
  }
  if (records.snapshotMeta !== undefined) {
    meta.put(records.snapshotMeta, KEY.snapshot)
    tx.objectStore(Idb.SNAPSHOT).put(records.snapshotState, STATE_KEY)
  }
  if (plan.deleteFrom !== undefined) entries().delete(ranges.lowerBound(plan.deleteFrom))
  if (plan.clearLog) entries().clear()
  if (plan.append.length > 0) {
    const store = entries()
    for (let k = 0; k < plan.append.length; k++) store.put(records.entries[k], plan.append[k]!.index)
  }
  if (records.hardState !== undefined) meta.put(records.hardState, KEY.hardState)
  if (records.leaderForTerm !== undefined) meta.put(records.leaderForTerm, KEY.leaderForTerm)
  if (plan.deleteThrough !== undefined) entries().delete(ranges.upperBound(plan.deleteThrough))
  if (records.log !== undefined) meta.put(records.log, KEY.log)
}
