/**
 * The SQLite drivers are optional peers: with one missing, opening a SQLite storage fails with a
 * typed `SqliteDriverMissing` that names the package to install (never a module-resolution crash
 * at import time). Here the modules are made unloadable with vitest's module mocks; the packed
 * package is also installed without them and checked for real (test/package-peers.test.ts).
 */
import { expect, it } from "@effect/vitest"
import { vi } from "vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlRaftStorage from "../../../../../layers/raft/storage/sql/SqlRaftStorage.js"

vi.mock("@effect/sql-sqlite-node/SqliteClient", () => {
  throw new Error("Cannot find package '@effect/sql-sqlite-node'")
})
vi.mock("node:module", async (importOriginal) => {
  const original = await importOriginal<typeof import("node:module")>()
  const createRequire: typeof original.createRequire = (from) => {
    const require = original.createRequire(from)
    const resolve = (id: string, options?: { paths?: Array<string> }) => {
      if (id === "better-sqlite3") throw new Error("Cannot find module 'better-sqlite3'")
      return require.resolve(id, options)
    }
    return Object.assign(((id: string) => require(id)) as NodeJS.Require, require, { resolve: Object.assign(resolve, require.resolve) })
  }
  return { ...original, createRequire, default: { ...original, createRequire } }
})

const inTempDir = <A, E>(f: (file: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "kuilt-sqlite-missing-"))),
    (dir) => f(join(dir, "node.sqlite")),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

it.scoped("without better-sqlite3, makeSqlite (worker thread) fails with SqliteDriverMissing naming it", () =>
  inTempDir((filename) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(SqlRaftStorage.makeSqlite({ filename })))
      expect(error._tag).toBe("SqliteDriverMissing")
      if (error._tag !== "SqliteDriverMissing") return
      expect(error.module).toBe("better-sqlite3")
      expect(error.message).toContain("npm install better-sqlite3")
    })
  ))

it.scoped("without @effect/sql-sqlite-node, makeSqlite on the main thread fails with SqliteDriverMissing naming it", () =>
  inTempDir((filename) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(SqlRaftStorage.makeSqlite({ filename, thread: "main" })))
      expect(error._tag).toBe("SqliteDriverMissing")
      if (error._tag !== "SqliteDriverMissing") return
      expect(error.module).toBe("@effect/sql-sqlite-node")
      expect(error.message).toContain("npm install @effect/sql-sqlite-node")
    })
  ))

it.scoped("the Layer fails the same way, so a program providing it ends with the typed error", () =>
  inTempDir((filename) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(Effect.asVoid(Effect.provide(Effect.void, SqlRaftStorage.layerSqlite({ filename })))))
      expect(error._tag).toBe("SqliteDriverMissing")
    })
  ))
