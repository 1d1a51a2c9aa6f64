/**
 * How the browser suites open IndexedDB storages: a fresh database per `make` (deleted when the
 * test's scope closes), and `reopen` = close the instance last opened on that database, then open
 * the same database name again — what a page reload or a browser restart does to a node.
 */
import { Effect } from "effect"
import * as IndexedDbRaftStorage from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStorage.js"
import type { RaftStorageHarness } from "../../../../conformance/RaftStorageConformance.js"

let databases = 0
/** Each page gets its own browser context (own origin storage), so a counter is unique enough. */
export const freshDatabaseName = (label = "db"): string => `kuilt-test-${label}-${++databases}`

/** The instance most recently opened on each database, which the next reopen must close. */
const latest = new Map<string, IndexedDbRaftStorage.IndexedDbRaftStorage>()

/** Opens a fresh database; the scope closes it and then deletes it. */
export const makeFresh = (label?: string) =>
  Effect.gen(function*() {
    const databaseName = freshDatabaseName(label)
    // Registered before the storage's own finalizer, so it runs after the connection closed.
    yield* Effect.addFinalizer(() =>
      Effect.ignore(IndexedDbRaftStorage.deleteDatabase({ databaseName })).pipe(
        Effect.ensuring(Effect.sync(() => latest.delete(databaseName)))
      )
    )
    const storage = yield* IndexedDbRaftStorage.make({ databaseName })
    latest.set(databaseName, storage)
    return storage
  })

/** Closes whatever instance is open on `databaseName` and opens it again. */
export const reopenNamed = (databaseName: string) =>
  Effect.gen(function*() {
    const previous = latest.get(databaseName)
    if (previous !== undefined) yield* previous.close
    const storage = yield* IndexedDbRaftStorage.make({ databaseName })
    latest.set(databaseName, storage)
    return storage
  })

export const indexedDbHarness: RaftStorageHarness<IndexedDbRaftStorage.IndexedDbRaftStorage, unknown> = {
  make: () => makeFresh("conformance"),
  reopen: (handle) => reopenNamed(handle.databaseName)
}
