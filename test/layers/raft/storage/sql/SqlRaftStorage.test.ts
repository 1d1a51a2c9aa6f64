/**
 * SqlRaftStorage on SQLite files: schema creation and migration, the file lock, what damage is
 * caught at load (`CorruptDurableState`), and fail-stop after a failed write. The shared
 * conformance suite runs in test/conformance/storage-sqlite.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { writeFileSync } from "node:fs"
import { SqlClient } from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlRaftStorage from "../../../../../layers/raft/storage/sql/SqlRaftStorage.js"
import * as SqliteWorkerClient from "../../../../../layers/raft/storage/sql/SqliteWorkerClient.js"
import { encodeConfig, snapshotChecksum, stateChecksum } from "../../../../../layers/raft/storage/sql/SqlRaftStorageCodec.js"
import { ClientId } from "../../../../../services/raft/ClientId.js"
import { ClusterConfig, ConfigPayload } from "../../../../../services/raft/ClusterConfig.js"
import type { LogEntry } from "../../../../../services/raft/LogEntry.js"
import { NodeId } from "../../../../../services/raft/NodeId.js"
import type { RaftStorageShape } from "../../../../../services/raft/RaftStorage.js"
import { freshFile, openFile, tempDir } from "./sqliteHarness.js"

const cmd = (index: number, term: number, text = `c${index}`): LogEntry => ({
  _tag: "Command",
  index,
  term,
  command: new TextEncoder().encode(text),
  dedupKey: { clientId: ClientId.make("client"), requestId: index }
})

/** Runs `f` with a plain SqlClient on `file` (the storage must be closed: it locks the file). */
const withRawClient = <A, E>(file: string, f: (sql: SqlClient) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
    return yield* f(Context.get(ctx, SqlClient))
  }))

/** Writes three single-batch runs (1..3, 4..6, 7..9) at term 1, then closes the file. */
const fileWithThreeRuns = Effect.gen(function*() {
  const file = freshFile(yield* tempDir())
  const s = yield* openFile(file)
  yield* s.write({ hardState: { term: 1, votedFor: null }, append: [cmd(1, 1), cmd(2, 1), cmd(3, 1)] })
  yield* s.write({ append: [cmd(4, 1), cmd(5, 1), cmd(6, 1)] })
  yield* s.write({ append: [cmd(7, 1), cmd(8, 1), cmd(9, 1)] })
  yield* s.close
  return file
})

/** `load` fails with CorruptDurableState whose reason matches `reason`; writes are refused. */
const expectCorrupt = (s: RaftStorageShape, reason: RegExp) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(s.load)
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
      expect(exit.cause.error._tag).toBe("CorruptDurableState")
      expect(exit.cause.error.reason).toMatch(reason)
    } else {
      expect.fail(`expected CorruptDurableState, got ${String(exit)}`)
    }
    const write = yield* Effect.exit(s.write({ hardState: { term: 5, votedFor: null } }))
    expect(Exit.isFailure(write) && write.cause._tag === "Fail" && write.cause.error._tag).toBe("StorageError")
  })

describe("SqlRaftStorage on SQLite: schema", () => {
  it.scoped("a new file gets the current schema version, and reopening it keeps the data and the version", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      const s = yield* openFile(file)
      yield* s.write({ hardState: { term: 3, votedFor: NodeId.make("b") }, append: [cmd(1, 3)] })
      yield* s.close
      const version = () => withRawClient(file, (sql) => sql.unsafe("SELECT version FROM kuilt_raft_schema").values)
      expect(yield* version()).toEqual([[SqlRaftStorage.SCHEMA_VERSION]])
      const again = yield* openFile(file)
      const st = yield* again.load
      expect(st.hardState).toEqual({ term: 3, votedFor: "b" })
      expect(st.entries).toEqual([cmd(1, 3)])
      yield* again.close
      expect(yield* version()).toEqual([[SqlRaftStorage.SCHEMA_VERSION]])
    }))

  it.scoped("an existing empty file is migrated to an empty durable state", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      writeFileSync(file, new Uint8Array(0))
      const s = yield* openFile(file)
      expect((yield* s.load).entries).toEqual([])
      expect((yield* s.load).hardState).toEqual({ term: 0, votedFor: null })
    }))

  it.scoped("a database at a newer schema version is refused with StorageError", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      yield* Effect.flatMap(openFile(file), (s) => s.close)
      yield* withRawClient(file, (sql) => sql.unsafe("UPDATE kuilt_raft_schema SET version = 99").raw)
      const exit = yield* Effect.exit(openFile(file))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") expect(exit.cause.error.reason).toMatch(/schema version 99/)
    }))

  it.scoped("a second instance on a file that is already open is refused with StorageError", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      const first = yield* openFile(file)
      yield* first.write({ hardState: { term: 1, votedFor: null } })
      const second = yield* Effect.exit(openFile(file))
      expect(Exit.isFailure(second) && second.cause._tag === "Fail" && second.cause.error._tag).toBe("StorageError")
      // The first instance is unaffected.
      yield* first.write({ hardState: { term: 2, votedFor: null } })
      expect((yield* first.load).hardState.term).toBe(2)
    }))

  it.scoped("over any SqlClient: make sets synchronous=FULL on SQLite and keeps tables under its prefix", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
      const sql = Context.get(ctx, SqlClient)
      const a = yield* Effect.provideService(SqlRaftStorage.make({ tablePrefix: "node_a" }), SqlClient, sql)
      const b = yield* Effect.provideService(SqlRaftStorage.make({ tablePrefix: "node_b" }), SqlClient, sql)
      yield* a.write({ hardState: { term: 1, votedFor: null }, append: [cmd(1, 1)] })
      yield* b.write({ hardState: { term: 4, votedFor: null } })
      expect((yield* a.load).entries).toEqual([cmd(1, 1)])
      expect((yield* b.load).entries).toEqual([])
      expect(yield* sql.unsafe("PRAGMA synchronous").values).toEqual([[2]])
      expect(yield* sql.unsafe("PRAGMA journal_mode").values).toEqual([["wal"]])
      const bad = yield* Effect.exit(Effect.provideService(SqlRaftStorage.make({ tablePrefix: "x; DROP TABLE y" }), SqlClient, sql))
      expect(Exit.isFailure(bad)).toBe(true)
    }))
})

describe("SqlRaftStorage on SQLite: damage is caught at load", () => {
  it.scoped("a flipped byte inside a stored entry fails load with CorruptDurableState (checksum)", () =>
    Effect.gen(function*() {
      const file = yield* fileWithThreeRuns
      yield* withRawClient(file, (sql) =>
        Effect.gen(function*() {
          const [[data]] = (yield* sql.unsafe("SELECT data FROM kuilt_raft_log WHERE first_index = 4").values) as [[Uint8Array]]
          const damaged = Uint8Array.from(data)
          damaged[damaged.length - 3]! ^= 0x10
          yield* sql.unsafe("UPDATE kuilt_raft_log SET data = ? WHERE first_index = 4", [damaged]).raw
        }))
      const s = yield* openFile(file)
      yield* expectCorrupt(s, /checksum mismatch in the log row 4\.\.6/)
      const read = yield* Effect.exit(s.entries(1, 10))
      expect(Exit.isFailure(read)).toBe(true)
    }))

  it.scoped("a deleted middle row fails load with CorruptDurableState naming the missing entries", () =>
    Effect.gen(function*() {
      const file = yield* fileWithThreeRuns
      yield* withRawClient(file, (sql) => sql.unsafe("DELETE FROM kuilt_raft_log WHERE first_index = 4").raw)
      yield* expectCorrupt(yield* openFile(file), /entries 4\.\.6 are missing/)
    }))

  it.scoped("a deleted first row fails load: the log must start at 1 without a snapshot", () =>
    Effect.gen(function*() {
      const file = yield* fileWithThreeRuns
      yield* withRawClient(file, (sql) => sql.unsafe("DELETE FROM kuilt_raft_log WHERE first_index = 1").raw)
      yield* expectCorrupt(yield* openFile(file), /first entry has index 4/)
    }))

  it.scoped("a row moved to another index fails its checksum", () =>
    Effect.gen(function*() {
      const file = yield* fileWithThreeRuns
      yield* withRawClient(file, (sql) =>
        Effect.zipRight(
          sql.unsafe("DELETE FROM kuilt_raft_log WHERE first_index = 7").raw,
          sql.unsafe("UPDATE kuilt_raft_log SET first_index = 7, last_index = 9 WHERE first_index = 4").raw
        ))
      yield* expectCorrupt(yield* openFile(file), /checksum mismatch in the log row 7\.\.9/)
    }))

  it.scoped("an edited term in the state row fails its checksum", () =>
    Effect.gen(function*() {
      const file = yield* fileWithThreeRuns
      yield* withRawClient(file, (sql) => sql.unsafe("UPDATE kuilt_raft_state SET term = 0").raw)
      yield* expectCorrupt(yield* openFile(file), /checksum mismatch in the state row/)
    }))

  it.scoped("damaged snapshot bytes fail the snapshot's checksum", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      const s = yield* openFile(file)
      const config = ConfigPayload.make({ new: ClusterConfig.of(["a"]) })
      yield* s.write({ hardState: { term: 2, votedFor: null }, append: [cmd(1, 1), cmd(2, 2), cmd(3, 2)] })
      yield* s.write({ snapshot: { meta: { lastIncludedIndex: 2, lastIncludedTerm: 2, config }, state: new Uint8Array([1, 2, 3]) }, discardThrough: 2 })
      yield* s.close
      yield* withRawClient(file, (sql) => sql.unsafe("UPDATE kuilt_raft_snapshot SET state = ?", [new Uint8Array([1, 2, 4])]).raw)
      yield* expectCorrupt(yield* openFile(file), /checksum mismatch in the snapshot at 2/)
    }))

  it.scoped("a well-formed snapshot that contradicts the hard state fails load (its term is above the current term)", () =>
    Effect.gen(function*() {
      const file = yield* fileWithThreeRuns
      const config = encodeConfig(ConfigPayload.make({ new: ClusterConfig.of(["a"]) }))
      const state = new Uint8Array([9])
      yield* withRawClient(file, (sql) =>
        sql.unsafe("INSERT INTO kuilt_raft_snapshot VALUES (1, 3, 7, ?, ?, ?)", [config, state, snapshotChecksum(3, 7, config, state)]).raw)
      yield* expectCorrupt(yield* openFile(file), /snapshot lastIncludedTerm 7 exceeds the hard-state term 1/)
    }))

  it.scoped("a discarded prefix that no snapshot covers fails load", () =>
    Effect.gen(function*() {
      const file = yield* fileWithThreeRuns
      const crc = stateChecksum({ term: 1, votedFor: null }, null, 5)
      yield* withRawClient(file, (sql) => sql.unsafe("UPDATE kuilt_raft_state SET log_floor = 5, crc = ?", [crc]).raw)
      yield* expectCorrupt(yield* openFile(file), /entries through 5 were discarded, but there is no snapshot/)
    }))

  it.scoped("a missing state row fails load", () =>
    Effect.gen(function*() {
      const file = yield* fileWithThreeRuns
      yield* withRawClient(file, (sql) => sql.unsafe("DELETE FROM kuilt_raft_state").raw)
      yield* expectCorrupt(yield* openFile(file), /expected one state row, found 0/)
    }))
})

describe("SqlRaftStorage on SQLite: failed writes", () => {
  it.scoped("after a write fails in SQL every later write fails too, and the file keeps what was committed", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      const scope = yield* Scope.make()
      const ctx = yield* Layer.build(SqliteClient.layer({ filename: file })).pipe(Scope.extend(scope))
      const sql = Context.get(ctx, SqlClient)
      const s = yield* Effect.provideService(SqlRaftStorage.make(), SqlClient, sql)
      yield* s.write({ hardState: { term: 1, votedFor: null }, append: [cmd(1, 1)] })
      // The log table disappears under the storage: the next append's INSERT fails.
      yield* sql.unsafe("ALTER TABLE kuilt_raft_log RENAME TO moved_away").raw
      const failed = yield* Effect.exit(s.write({ append: [cmd(2, 1)] }))
      expect(Exit.isFailure(failed) && failed.cause._tag === "Fail" && failed.cause.error._tag).toBe("StorageError")
      yield* sql.unsafe("ALTER TABLE moved_away RENAME TO kuilt_raft_log").raw
      // The table is back, but the instance stays stopped: it cannot know what the failure left.
      const after = yield* Effect.exit(s.write({ hardState: { term: 2, votedFor: null } }))
      expect(Exit.isFailure(after) && after.cause._tag === "Fail" && after.cause.error.reason).toMatch(/an earlier write failed/)
      yield* Scope.close(scope, Exit.void)
      const reopened = yield* openFile(file)
      const st = yield* reopened.load
      expect(st.hardState.term).toBe(1)
      expect(st.entries).toEqual([cmd(1, 1)])
    }))
})

describe("SqlRaftStorage on SQLite: a failed COMMIT", () => {
  // SQLite syncs a WAL transaction at COMMIT, so an I/O or fsync failure surfaces there; a
  // deferred foreign key violated by a trigger makes COMMIT (and only COMMIT) fail on demand.
  const clients: ReadonlyArray<readonly [string, (file: string) => Effect.Effect<SqlClient, unknown, Scope.Scope>]> = [
    ["on the main thread", (file) => Effect.map(Layer.build(SqliteClient.layer({ filename: file })), Context.get(SqlClient))],
    ["in a worker thread", (file) => SqliteWorkerClient.make({ filename: file })]
  ]
  for (const [where, open] of clients) {
    it.scoped(`fails the write with StorageError, rolls it back, and stops later writes (driver ${where})`, () =>
      Effect.gen(function*() {
        const file = freshFile(yield* tempDir())
        const scope = yield* Scope.make()
        const sql = yield* open(file).pipe(Scope.extend(scope))
        const s = yield* Effect.provideService(SqlRaftStorage.make(), SqlClient, sql)
        yield* s.write({ hardState: { term: 1, votedFor: null }, append: [cmd(1, 1)] })
        for (
          const ddl of [
            "PRAGMA foreign_keys = ON",
            "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
            "CREATE TABLE child (pid INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TRIGGER poison AFTER INSERT ON kuilt_raft_log BEGIN INSERT INTO child VALUES (999); END"
          ]
        ) yield* sql.unsafe(ddl).raw
        const failed = yield* Effect.exit(s.write({ append: [cmd(2, 1)] }))
        expect(Exit.isFailure(failed) && failed.cause._tag === "Fail" && failed.cause.error._tag).toBe("StorageError")
        // Rolled back: the connection is out of the failed transaction and the row is not there.
        const rows = yield* sql.unsafe("SELECT COUNT(*) AS n FROM kuilt_raft_log").values
        expect(rows[0]![0]).toBe(1)
        yield* sql.unsafe("DROP TRIGGER poison").raw
        const after = yield* Effect.exit(s.write({ append: [cmd(2, 1)] }))
        expect(Exit.isFailure(after) && after.cause._tag === "Fail" && after.cause.error.reason).toMatch(/an earlier write failed/)
        yield* Scope.close(scope, Exit.void)
        const st = yield* (yield* openFile(file)).load
        expect(st.entries).toEqual([cmd(1, 1)])
      }))
  }
})
