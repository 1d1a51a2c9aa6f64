/**
 * The few IndexedDB operations `IndexedDbRaftStorage` needs, as Effects with typed failures:
 * opening (and creating or migrating) the database, running one transaction to its end, and
 * deleting a database. Only the DOM IndexedDB API is used, so this runs in any browser, worker or
 * IndexedDB implementation passed in as an `IDBFactory`.
 *
 * Failure mapping: every DOMException or abort becomes a `StorageError` whose reason names the
 * operation and the exception (`QuotaExceededError`, `VersionError`, `InvalidStateError` for a
 * closed connection, ...); nothing is thrown past these functions.
 *
 * A transaction's Effect succeeds only on its `complete` event: with `durability: "strict"` that
 * is the point at which the browser has flushed it to disk, which is what the Raft contract needs
 * before a vote or acknowledgement leaves the node (§5.2, §5.3 persist-before-respond).
 */
import { Effect } from "effect"
import { StorageError } from "../../../../services/raft/RaftErrors.js"

/** Version of the database layout (object stores); raised with a migration in `upgrade`. */
export const SCHEMA_VERSION = 1

/** Object stores: small records by name, entries by index, snapshot state bytes. */
export const META = "meta"
export const ENTRIES = "entries"
export const SNAPSHOT = "snapshot"
export const ALL_STORES: ReadonlyArray<string> = [META, ENTRIES, SNAPSHOT]

/** Written once at creation, checked at every open: a database of that name made by other code is refused. */
export const FORMAT_KEY = "format"
export const FORMAT_MARKER = "kuilt-raft-storage"

const HINTS: Record<string, string> = {
  QuotaExceededError: "the origin's storage quota is exhausted",
  VersionError: "the database was created by a newer version of this storage (downgrade refused)",
  InvalidStateError: "the database connection is closed",
  UnknownError: "the browser's storage backend failed (disk error or profile damage)",
  DataCloneError: "a value could not be stored",
  ConstraintError: "a store constraint was violated",
  AbortError: "the transaction was aborted"
}

/** A `StorageError` for `error` (a DOMException, an Error or anything thrown) during `operation`. */
export const storageErrorOf = (operation: string, error: unknown): StorageError => {
  const name = typeof error === "object" && error !== null && "name" in error ? String(error.name) : undefined
  const message = error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? String((error as { readonly message: unknown }).message)
    : String(error)
  const hint = name === undefined ? undefined : HINTS[name]
  return new StorageError({
    reason: `${operation} failed: ${name ?? "Error"}${hint === undefined ? "" : ` (${hint})`}: ${message}`,
    cause: error
  })
}

/** The factory to use: the injected one, else the global one; absent in some workers and in Node. */
export const resolveFactory = (factory: IDBFactory | undefined): Effect.Effect<IDBFactory, StorageError> =>
  Effect.suspend(() => {
    const f = factory ?? (globalThis as { readonly indexedDB?: IDBFactory }).indexedDB
    return f === undefined
      ? Effect.fail(new StorageError({ reason: "IndexedDB is not available here (no globalThis.indexedDB and no factory given)" }))
      : Effect.succeed(f)
  })

/** The key-range constructor to use: the injected one, else the global one. */
export const resolveKeyRange = (
  keyRange: typeof IDBKeyRange | undefined
): Effect.Effect<typeof IDBKeyRange, StorageError> =>
  Effect.suspend(() => {
    const k = keyRange ?? (globalThis as { readonly IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange
    return k === undefined
      ? Effect.fail(new StorageError({ reason: "IDBKeyRange is not available here (no globalThis.IDBKeyRange and none given)" }))
      : Effect.succeed(k)
  })

/** Creates or migrates the stores, inside the version-change transaction. */
const upgrade = (db: IDBDatabase, tx: IDBTransaction, oldVersion: number): void => {
  if (oldVersion < 1) {
    db.createObjectStore(META)
    db.createObjectStore(ENTRIES)
    db.createObjectStore(SNAPSHOT)
    tx.objectStore(META).put(FORMAT_MARKER, FORMAT_KEY)
  }
  // A future SCHEMA_VERSION 2 adds `if (oldVersion < 2) { ... }` here, rewriting records in place.
}

/**
 * Opens `name` at `SCHEMA_VERSION`, creating or migrating it. Fails with `StorageError` when the
 * database is newer (`VersionError`), when an upgrade is blocked by another open connection (a
 * connection that later opens anyway is closed at once), or when it lacks this storage's stores.
 * The connection closes itself on `versionchange`, so it never blocks a newer version's upgrade.
 */
export const openDatabase = (factory: IDBFactory, name: string): Effect.Effect<IDBDatabase, StorageError> =>
  Effect.async<IDBDatabase, StorageError>((resume) => {
    let gaveUp = false
    let request: IDBOpenDBRequest
    try {
      request = factory.open(name, SCHEMA_VERSION)
    } catch (e) {
      resume(Effect.fail(storageErrorOf(`opening database ${JSON.stringify(name)}`, e)))
      return
    }
    request.onupgradeneeded = (event) => {
      try {
        upgrade(request.result, request.transaction!, event.oldVersion)
      } catch (e) {
        // Aborting the version change makes the open request fail with AbortError.
        request.transaction?.abort()
        gaveUp = true
        resume(Effect.fail(storageErrorOf(`creating the stores of ${JSON.stringify(name)}`, e)))
      }
    }
    request.onblocked = () => {
      gaveUp = true
      resume(Effect.fail(new StorageError({
        reason: `opening database ${JSON.stringify(name)} is blocked: another connection (an older tab?) holds it open`
      })))
    }
    request.onerror = (event) => {
      event.preventDefault()
      resume(Effect.fail(storageErrorOf(`opening database ${JSON.stringify(name)}`, request.error)))
    }
    request.onsuccess = () => {
      const db = request.result
      if (gaveUp) return db.close()
      db.onversionchange = () => db.close()
      const missing = ALL_STORES.filter((s) => !db.objectStoreNames.contains(s))
      if (missing.length > 0) {
        db.close()
        return resume(Effect.fail(new StorageError({
          reason: `database ${JSON.stringify(name)} is not a kuilt Raft storage (missing stores: ${missing.join(", ")})`
        })))
      }
      resume(Effect.succeed(db))
    }
  })

/** What a transaction body gives back: how to compute the result once the transaction completed. */
export type OnComplete<A> = () => A

/**
 * Runs one transaction: `body` issues its requests synchronously and returns the function that
 * computes the result, which runs inside the `complete` event (so state derived from the
 * transaction is updated exactly when it is durable, even if the caller was interrupted). `abort`
 * lets a request callback abort the transaction with a reason of its own.
 *
 * Interruption aborts the transaction when it is still active and then waits for it to settle
 * either way, so a caller that serialises writes never starts the next one on top of an unsettled
 * one.
 */
export const transact = <A>(
  db: IDBDatabase,
  stores: ReadonlyArray<string>,
  mode: IDBTransactionMode,
  operation: string,
  body: (tx: IDBTransaction, abort: (reason: StorageError) => void) => OnComplete<A>
): Effect.Effect<A, StorageError> =>
  Effect.async<A, StorageError>((resume) => {
    let tx: IDBTransaction
    try {
      // "strict": `complete` fires only after the data reached durable storage (flushed).
      tx = db.transaction(stores as Array<string>, mode, { durability: "strict" })
    } catch (e) {
      resume(Effect.fail(storageErrorOf(operation, e)))
      return
    }
    let settled = false
    let ownReason: StorageError | undefined
    const onSettled: Array<() => void> = []
    const settle = () => {
      settled = true
      for (const f of onSettled.splice(0)) f()
    }
    const abort = (reason: StorageError) => {
      ownReason ??= reason
      try {
        tx.abort()
      } catch {
        // Already committing or finished: its own event decides the outcome.
      }
    }
    let onComplete: OnComplete<A> | undefined
    tx.oncomplete = () => {
      let result: A
      try {
        result = onComplete!()
      } catch (e) {
        settle()
        return resume(Effect.fail(storageErrorOf(`${operation} (reading the result)`, e)))
      }
      settle()
      resume(Effect.succeed(result))
    }
    tx.onabort = () => {
      settle()
      resume(Effect.fail(ownReason ?? storageErrorOf(operation, tx.error ?? new Error("transaction aborted"))))
    }
    try {
      onComplete = body(tx, abort)
    } catch (e) {
      abort(storageErrorOf(operation, e))
    }
    return Effect.async<void>((done) => {
      if (settled) return done(Effect.void)
      onSettled.push(() => done(Effect.void))
      abort(new StorageError({ reason: `${operation} was interrupted` }))
    })
  })

/**
 * Deletes database `name` (every stored Raft state in it). Fails with `StorageError` when the
 * browser refuses, or when another connection blocks the deletion.
 */
export const deleteDatabase = (factory: IDBFactory, name: string): Effect.Effect<void, StorageError> =>
  Effect.async<void, StorageError>((resume) => {
    let request: IDBOpenDBRequest
    try {
      request = factory.deleteDatabase(name)
    } catch (e) {
      resume(Effect.fail(storageErrorOf(`deleting database ${JSON.stringify(name)}`, e)))
      return
    }
    request.onblocked = () =>
      resume(Effect.fail(new StorageError({ reason: `deleting database ${JSON.stringify(name)} is blocked by an open connection` })))
    request.onerror = (event) => {
      event.preventDefault()
      resume(Effect.fail(storageErrorOf(`deleting database ${JSON.stringify(name)}`, request.error)))
    }
    request.onsuccess = () => resume(Effect.void)
  })
