/**
 * `RaftStorage` on SQL: any `@effect/sql` `SqlClient` (SQLite by default, through
 * `@effect/sql-sqlite-node`). Meant to be imported as a namespace
 * (`import { SqlRaftStorage } from "kuilt/node"`): `SqlRaftStorage.make()` /
 * `SqlRaftStorage.layer()` over the `SqlClient` in context, `SqlRaftStorage.makeSqlite({ filename })`
 * / `SqlRaftStorage.layerSqlite({ filename })` for a SQLite file.
 *
 * - Durability: each `WriteBatch` (one engine turn) is ONE transaction (group commit), durable
 *   when `write` succeeds. On SQLite the storage sets `synchronous = FULL` (with WAL, `NORMAL`
 *   may lose the last commits on power loss, which Raft cannot afford: a vote or an acknowledged
 *   entry must never be forgotten).
 * - Schema: created and migrated at start, in one transaction; the version is recorded, and a
 *   database written by a newer version is refused (`StorageError`).
 * - Corruption: every row carries a CRC-32 over its content and key columns; at `load` a checksum
 *   mismatch, an undecodable row, a gap or overlap in the log, or a snapshot/log/hard-state
 *   contradiction fails with `CorruptDurableState` (so the node refuses to start), and writes are
 *   refused too.
 * - Failures: every SQL failure is a `StorageError`. After a failed write the instance refuses
 *   every later write (fail-stop: whether the failed transaction reached the disk is unknown);
 *   reopen the storage to go on. Batches the contract forbids are refused with `StorageError`
 *   before anything is written (`validateWriteBatch`) and do not poison the instance.
 * - One instance per set of tables at a time (the SQLite layer locks the file exclusively).
 * - The SQLite drivers (`better-sqlite3`, `@effect/sql-sqlite-node`) are optional peer
 *   dependencies, loaded when a SQLite storage opens; a missing one fails with
 *   `SqliteDriverMissing` naming the package to install.
 */
import { Context, Effect, Either, Layer } from "effect"
import { SqlClient } from "@effect/sql/SqlClient"
import type { Scope } from "effect"
import type { CorruptDurableState } from "../../../../services/raft/RaftErrors.js"
import { StorageError } from "../../../../services/raft/RaftErrors.js"
import { RaftStorage, type RaftStorageShape } from "../../../../services/raft/RaftStorage.js"
import type { WriteBatch } from "../../../../services/raft/RaftStorage.js"
import { validateWriteBatch } from "../../../../services/raft/validateWriteBatch.js"
import { macrotaskYield } from "./macrotaskYield.js"
import { readImage, readRange } from "./SqlRaftStorageLoad.js"
import type { Mirror } from "./SqlRaftStorageMirror.js"
import { DEFAULT_TABLE_PREFIX, migrate, sqlFailure, statementsFor } from "./SqlRaftStorageSchema.js"
import { writeBatch } from "./SqlRaftStorageWrite.js"
import { loadSqliteClient, resolveBetterSqlite3 } from "./SqliteDriver.js"
import type { SqliteDriverMissing } from "./SqliteDriverMissing.js"
import * as SqliteWorkerClient from "./SqliteWorkerClient.js"

export { SCHEMA_VERSION } from "./SqlRaftStorageSchema.js"
export { SqliteDriverMissing } from "./SqliteDriverMissing.js"

/** Options of `SqlRaftStorage.make`/`layer` on any `@effect/sql` client: the table prefix and event-loop yielding. */
export interface MakeOptions {
  /**
   * Prefix of the four table names (`<prefix>_schema`, `_state`, `_snapshot`, `_log`); default
   * `kuilt_raft`. Lets several nodes share one database. Letters, digits and `_`, ≤ 40 chars.
   */
  readonly tablePrefix?: string
  /**
   * Yield a macrotask before a write when the process's event loop has not turned for a few
   * milliseconds (`macrotaskYield.ts`). Default `true`: needed when the driver runs synchronously
   * on the main thread (better-sqlite3 through `SqliteClient`); useless for an asynchronous one.
   */
  readonly yieldToEventLoop?: boolean
}

/** Options of `SqlRaftStorage.makeSqlite`/`layerSqlite`: the file and where the driver runs. */
export interface SqliteOptions extends MakeOptions {
  /** The database file (created when missing). */
  readonly filename: string
  /**
   * Where better-sqlite3 runs. `"worker"` (default): in a worker thread of its own
   * (`SqliteWorkerClient`), so a transaction's fsync never blocks the event loop. `"main"`: on
   * the main thread through `@effect/sql-sqlite-node`'s `SqliteClient`, with the storage yielding
   * a macrotask every few milliseconds — fewer moving parts, but each transaction blocks the loop
   * for as long as the disk takes.
   */
  readonly thread?: "worker" | "main"
  /**
   * Hold an exclusive lock on the file while open (default `true`): a second process or instance
   * opening the same file fails with `StorageError` instead of silently sharing a Raft log (at
   * once; with `thread: "main"` after better-sqlite3's 5 s busy timeout, blocking that thread).
   */
  readonly exclusive?: boolean
}

/**
 * A storage over the `SqlClient` in context: creates or migrates the tables, reads the current
 * state once (for write validation). Fails with `StorageError` when SQL fails, the prefix is
 * invalid, the dialect is not sqlite/pg/mysql, or the schema is newer than this code. Damaged
 * data does not fail `make`: `load` reports it as `CorruptDurableState`, so a node refuses to
 * start on it with that error.
 */
export const make = (options: MakeOptions = {}): Effect.Effect<RaftStorageShape, StorageError, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const st = yield* statementsFor(sql, options.tablePrefix ?? DEFAULT_TABLE_PREFIX)
    if (st.dialect === "sqlite") {
      yield* Effect.mapError(sql.unsafe("PRAGMA synchronous = FULL").raw, sqlFailure("setting synchronous = FULL failed"))
    }
    yield* migrate(sql, st)
    const opened = yield* Effect.either(readImage(sql, st))
    let corrupt: CorruptDurableState | undefined
    let mirror: Mirror | undefined
    if (Either.isLeft(opened)) {
      if (opened.left._tag === "StorageError") return yield* opened.left
      corrupt = opened.left
    } else {
      mirror = opened.right.mirror
    }
    const yieldFirst = options.yieldToEventLoop ?? true
    let poisoned: StorageError | undefined
    const lock = yield* Effect.makeSemaphore(1)

    const write = (batch: WriteBatch): Effect.Effect<void, StorageError> =>
      Effect.suspend(() => {
        if (mirror === undefined) {
          return Effect.fail(new StorageError({ reason: `refusing to write over corrupt durable state: ${corrupt!.reason}` }))
        }
        if (poisoned !== undefined) {
          return Effect.fail(new StorageError({ reason: `an earlier write failed (${poisoned.reason}); reopen the storage`, cause: poisoned }))
        }
        const checked = validateWriteBatch(mirror, batch)
        if (Either.isLeft(checked)) return Effect.fail(checked.left)
        return Effect.tapError(writeBatch(sql, st, mirror, batch), (e) => Effect.sync(() => (poisoned = e)))
      })

    const storage: RaftStorageShape = {
      load: Effect.suspend(() =>
        corrupt !== undefined ? Effect.fail(corrupt) : Effect.map(readImage(sql, st), (image) => image.state)
      ),
      write: (batch) => lock.withPermits(1)(yieldFirst ? Effect.zipRight(macrotaskYield, write(batch)) : write(batch)),
      entries: (from, toExclusive) =>
        Effect.suspend(() =>
          mirror === undefined
            ? Effect.fail(new StorageError({ reason: `the durable state is corrupt: ${corrupt!.reason}` }))
            : readRange(sql, st, mirror, from, toExclusive)
        )
    }
    return storage
  })

/** `RaftStorage` over the `SqlClient` in context (see `make`). */
export const layer = (options: MakeOptions = {}): Layer.Layer<RaftStorage, StorageError, SqlClient> =>
  Layer.effect(RaftStorage, make(options))

/**
 * A storage on the SQLite file `options.filename` (WAL, `synchronous = FULL`, exclusive lock by
 * default; better-sqlite3 in a worker thread by default), closed with the current `Scope`. Fails
 * with `SqliteDriverMissing` when the driver is not installed (`better-sqlite3`, or
 * `@effect/sql-sqlite-node` with `thread: "main"`), with `StorageError` when the file cannot be
 * opened or is locked by another instance, and as `make` does.
 */
export const makeSqlite = (
  options: SqliteOptions
): Effect.Effect<RaftStorageShape, StorageError | SqliteDriverMissing, Scope.Scope> =>
  Effect.gen(function*() {
    const onMain = options.thread === "main"
    const feature = "SqlRaftStorage.makeSqlite"
    const client = onMain
      ? Context.get(
        yield* Layer.build((yield* loadSqliteClient(feature)).layer({ filename: options.filename })).pipe(
          Effect.mapError((e) => new StorageError({ reason: `cannot open ${options.filename}: ${e.message}`, cause: e })),
          // better-sqlite3 throws synchronously when the file cannot be opened.
          Effect.catchAllDefect((defect) =>
            Effect.fail(new StorageError({ reason: `cannot open ${options.filename}: ${String(defect)}`, cause: defect }))
          )
        ),
        SqlClient
      )
      : yield* SqliteWorkerClient.make({ filename: options.filename, driver: yield* resolveBetterSqlite3(feature) }).pipe(
        Effect.mapError((e) => new StorageError({ reason: e.message, cause: e }))
      )
    if (options.exclusive ?? true) {
      // The lock is taken by the first read below and held until the file is closed.
      yield* Effect.mapError(client.unsafe("PRAGMA locking_mode = EXCLUSIVE").raw, sqlFailure("locking the database failed"))
    }
    return yield* Effect.provideService(make({ ...options, yieldToEventLoop: onMain }), SqlClient, client)
  })

/**
 * `RaftStorage` on a SQLite file (see `makeSqlite`); the file is closed when the layer is
 * released. Fails with `SqliteDriverMissing` when the driver is not installed.
 */
export const layerSqlite = (options: SqliteOptions): Layer.Layer<RaftStorage, StorageError | SqliteDriverMissing> =>
  Layer.scoped(RaftStorage, makeSqlite(options))
