/**
 * A `SqlClient` (SQLite dialect) whose database lives in a worker thread: better-sqlite3 runs
 * there, synchronously, fsync included, while the main thread only posts statements and awaits
 * replies. This is what keeps the event loop free while a node writes: with the driver on the main
 * thread every transaction blocks the loop for as long as the disk takes to fsync (tens to
 * hundreds of milliseconds on a busy disk), longer than a heartbeat interval.
 *
 * One worker per database file; one statement in flight at a time (a semaphore, as with any
 * single-connection client), transactions hold it from BEGIN to COMMIT. Parameters and rows cross
 * the thread boundary by structured clone (byte arrays are copied, arriving as `Uint8Array`).
 * The worker is started from source text (`eval`), so it needs no separate file, whatever runs
 * this module (tsx, vitest, compiled JS); it loads better-sqlite3 from the path the caller resolved
 * (`SqliteDriver.resolveBetterSqlite3`: an optional peer dependency, resolved from this package).
 */
import { Cause, Effect, Exit, Scope, Stream } from "effect"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import * as Client from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"

/** How a statement's result comes back: row objects, rows as value arrays, or nothing. */
type Mode = "objects" | "values" | "run"

interface Reply {
  readonly id: number
  readonly rows?: ReadonlyArray<unknown>
  readonly error?: string
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads")
const Database = require(workerData.driver)
let db
try {
  // timeout 0: a locked database fails at once instead of busy-waiting in this thread.
  db = new Database(workerData.filename, { timeout: 0 })
  db.pragma("journal_mode = WAL")
  parentPort.postMessage({ id: 0, rows: [] })
} catch (e) {
  parentPort.postMessage({ id: 0, error: String((e && e.message) || e) })
}
const cache = new Map()
const prepare = (sql) => {
  let st = cache.get(sql)
  if (st === undefined) {
    st = db.prepare(sql)
    if (cache.size >= 200) cache.delete(cache.keys().next().value)
    cache.set(sql, st)
  }
  return st
}
parentPort.on("message", (m) => {
  if (m.close) {
    try { db && db.close() } finally { parentPort.close() }
    return
  }
  try {
    const st = prepare(m.sql)
    let rows = []
    if (st.reader) {
      st.raw(m.mode === "values")
      rows = st.all(...m.params)
    } else {
      st.run(...m.params)
    }
    parentPort.postMessage({ id: m.id, rows })
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) })
  }
})
`

export interface SqliteWorkerOptions {
  readonly filename: string
  /**
   * The resolved path of better-sqlite3's entry point, which the worker `require`s. Default: the
   * one this module resolves (a `SqlError` when there is none).
   */
  readonly driver?: string
}

/**
 * Opens `options.filename` in a new worker thread (WAL mode) and returns a `SqlClient` over it,
 * closed (database closed, worker ended) with the Scope. Fails with `SqlError` when the file
 * cannot be opened. A worker that dies fails every pending and later statement with `SqlError`.
 */
export const make = (options: SqliteWorkerOptions): Effect.Effect<Client.SqlClient, SqlError, Scope.Scope> =>
  Effect.gen(function*() {
    // `SqlClient.make` needs @effect/experimental's Reactivity (a peer of @effect/sql, so present
    // wherever @effect/sql is); loaded on use, so importing this module does not require it.
    const Reactivity = yield* Effect.tryPromise({
      try: () => import("@effect/experimental/Reactivity"),
      catch: (cause) => new SqlError({ message: `cannot load @effect/experimental (a peer of @effect/sql): ${String(cause)}`, cause })
    })
    const driver = options.driver ?? (yield* Effect.try({
      try: () => createRequire(import.meta.url).resolve("better-sqlite3"),
      catch: (cause) => new SqlError({ message: `cannot find better-sqlite3: ${String(cause)}`, cause })
    }))
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { filename: options.filename, driver } })
    const pending = new Map<number, (reply: Reply) => void>()
    let dead: string | undefined
    let nextId = 1
    const failAll = (reason: string) => {
      dead ??= reason
      for (const [id, resolve] of pending) resolve({ id, error: reason })
      pending.clear()
    }
    worker.on("message", (reply: Reply) => {
      const resolve = pending.get(reply.id)
      pending.delete(reply.id)
      resolve?.(reply)
    })
    worker.on("error", (e) => failAll(`the SQLite worker failed: ${e.message}`))
    worker.on("exit", (code) => failAll(`the SQLite worker exited (code ${code})`))
    // The worker must not keep the process alive on its own; pending statements do (see `send`).
    worker.unref()

    const send = (message: object, id: number): Effect.Effect<ReadonlyArray<any>, SqlError> =>
      Effect.async<ReadonlyArray<any>, SqlError>((resume) => {
        if (dead !== undefined) return resume(Effect.fail(new SqlError({ message: dead })))
        worker.ref()
        pending.set(id, (reply) => {
          if (pending.size === 0) worker.unref()
          resume(
            reply.error !== undefined
              ? Effect.fail(new SqlError({ message: reply.error, cause: new Error(reply.error) }))
              : Effect.succeed(reply.rows ?? [])
          )
        })
        worker.postMessage(message)
      })
    const run = (sql: string, params: ReadonlyArray<unknown>, mode: Mode) =>
      Effect.suspend(() => {
        const id = nextId++
        return send({ id, sql, params, mode }, id)
      })

    const opened = yield* send({}, 0).pipe(Effect.exit)
    // Close the database in the worker and let it end; a worker that hangs is terminated.
    const stop: Effect.Effect<void> = Effect.async<void>((resume) => {
      if (dead !== undefined) return resume(Effect.void)
      worker.once("exit", () => resume(Effect.void))
      worker.postMessage({ close: true })
    }).pipe(
      Effect.timeout("5 seconds"),
      Effect.catchAll(() => Effect.asVoid(Effect.promise(() => worker.terminate())))
    )
    yield* Effect.addFinalizer(() => stop)
    if (Exit.isFailure(opened)) {
      return yield* Effect.failCause(Cause.map(opened.cause, (e) => new SqlError({ message: `cannot open ${options.filename}: ${e.message}` })))
    }

    const connection: Connection = {
      execute: (sql, params, transformRows) =>
        Effect.map(run(sql, params, "objects"), (rows) => (transformRows ? transformRows(rows as ReadonlyArray<object>) : rows)),
      executeRaw: (sql, params) => run(sql, params, "run"),
      executeValues: (sql, params) => run(sql, params, "values") as Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError>,
      executeUnprepared: (sql, params, transformRows) =>
        Effect.map(run(sql, params, "objects"), (rows) => (transformRows ? transformRows(rows as ReadonlyArray<object>) : rows)),
      executeStream: () => Stream.die(new Error("executeStream is not supported by the SQLite worker client"))
    }
    const semaphore = yield* Effect.makeSemaphore(1)
    const acquirer = semaphore.withPermits(1)(Effect.succeed(connection))
    // A transaction keeps the connection from BEGIN to COMMIT/ROLLBACK (released with its Scope).
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        yield* restore(semaphore.take(1))
        const scope = yield* Effect.scope
        yield* Scope.addFinalizer(scope, semaphore.release(1))
        return connection
      })
    )
    return yield* Client.make({
      acquirer,
      transactionAcquirer,
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"]]
    }).pipe(Effect.provide(Reactivity.layer))
  })
