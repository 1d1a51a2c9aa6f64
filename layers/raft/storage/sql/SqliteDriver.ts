/**
 * The SQLite drivers are optional peer dependencies of kuilt: only `SqlRaftStorage.makeSqlite` /
 * `layerSqlite` need them, so an app that stores elsewhere (or a browser app) installs no native
 * module. They are loaded on use, here, and a missing one is a typed `SqliteDriverMissing` that
 * names the package to install, not a module-resolution crash at import time.
 *
 * - `thread: "worker"` (the default) needs `better-sqlite3`, resolved from this package.
 * - `thread: "main"` needs `@effect/sql-sqlite-node` (which brings better-sqlite3 itself).
 *
 * Internal: the public declarations never name these modules, so a consumer type-checks
 * `kuilt/node` without them installed.
 */
import { Effect } from "effect"
import { createRequire } from "node:module"
import { SqliteDriverMissing } from "./SqliteDriverMissing.js"

/**
 * The path of the better-sqlite3 this package resolves (the worker thread loads it from there).
 * Fails with `SqliteDriverMissing` when it is not installed.
 */
export const resolveBetterSqlite3 = (feature: string): Effect.Effect<string, SqliteDriverMissing> =>
  Effect.try({
    try: () => createRequire(import.meta.url).resolve("better-sqlite3"),
    catch: (cause) => new SqliteDriverMissing({ module: "better-sqlite3", feature, cause })
  })

/**
 * `@effect/sql-sqlite-node`'s `SqliteClient` module, loaded on first use. Fails with
 * `SqliteDriverMissing` when the package (or the better-sqlite3 it loads) is not installed.
 */
export const loadSqliteClient = (
  feature: string
): Effect.Effect<typeof import("@effect/sql-sqlite-node/SqliteClient"), SqliteDriverMissing> =>
  Effect.tryPromise({
    try: () => import("@effect/sql-sqlite-node/SqliteClient"),
    catch: (cause) => new SqliteDriverMissing({ module: "@effect/sql-sqlite-node", feature, cause })
  })
