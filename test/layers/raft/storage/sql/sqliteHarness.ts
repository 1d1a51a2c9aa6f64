/**
 * SQLite files for SqlRaftStorage tests: a fresh temp directory per test (vitest runs files in
 * parallel forks), removed with the test's Scope, and storages that can be closed and reopened on
 * the same file — a process restart, as far as the file is concerned.
 */
import { Effect, Exit, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlRaftStorage from "../../../../../layers/raft/storage/sql/SqlRaftStorage.js"
import type { StorageError } from "../../../../../services/raft/RaftErrors.js"
import type { RaftStorageShape } from "../../../../../services/raft/RaftStorage.js"

/** A temp directory that lives as long as the current Scope. */
export const tempDir = (label = "kuilt-sql-"): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), label))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** A storage open on `file`, with the handle to close it (its own Scope, so a test can reopen). */
export interface OpenFile extends RaftStorageShape {
  readonly file: string
  /** Closes the instance currently open on this file (idempotent). */
  readonly close: Effect.Effect<void>
  /** The Scope of the instance currently open on this file. */
  current: Scope.CloseableScope
  /** The options it was opened with (a reopen uses them again). */
  readonly options: Omit<SqlRaftStorage.SqliteOptions, "filename">
}

/** Opens `file` in a Scope of its own, closed by `close` or when the caller's Scope ends. */
export const openFile = (
  file: string,
  options: Omit<SqlRaftStorage.SqliteOptions, "filename"> = {}
): Effect.Effect<OpenFile, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const storage = yield* SqlRaftStorage.makeSqlite({ ...options, filename: file }).pipe(
      // The drivers are installed here (dev dependencies); their absence is tested with the package.
      Effect.catchTag("SqliteDriverMissing", Effect.die),
      Scope.extend(scope),
      Effect.tapError(() => Scope.close(scope, Exit.void))
    )
    const handle: OpenFile = {
      ...storage,
      file,
      current: scope,
      options,
      close: Effect.suspend(() => Scope.close(handle.current, Exit.void))
    }
    return handle
  })

/** Closes whatever is open on `handle.file` and opens the file again; the handle tracks the new instance. */
export const reopen = (handle: OpenFile): Effect.Effect<RaftStorageShape, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* handle.close
    const next = yield* openFile(handle.file, handle.options)
    handle.current = next.current
    return next
  })

let counter = 0
/** A fresh database file name inside `dir`. */
export const freshFile = (dir: string, name = "node"): string => join(dir, `${name}-${++counter}.sqlite`)
