/**
 * The tables of `SqlRaftStorage`, the SQL it runs, and the migrations that create them.
 *
 * Four tables, named after a prefix (`kuilt_raft` by default, so several nodes can share one
 * database under different prefixes):
 * - `<p>_schema`: one row, the schema version the tables are at (migrations move it forward; a
 *   database written by a newer version is refused rather than misread);
 * - `<p>_state`: one row: term, vote, leader-for-term, the discarded-prefix floor, CRC;
 * - `<p>_snapshot`: zero or one row: index, term, encoded config, state bytes, CRC;
 * - `<p>_log`: one row per run of contiguous entries (see `SqlRaftStorageCodec.ts`), keyed by
 *   its first index, with its last index, data and CRC.
 *
 * The statements are plain strings built once per storage (no per-call SQL compilation); the
 * placeholders and column types follow the client's dialect. SQLite is the tested dialect;
 * PostgreSQL and MySQL get their own types and placeholders; others are refused at start.
 */
import { Effect } from "effect"
import type { SqlClient } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { StorageError } from "../../../../services/raft/RaftErrors.js"
import { stateChecksum } from "./SqlRaftStorageCodec.js"

/** The schema version this code writes. Bump it and append a migration to change the tables. */
export const SCHEMA_VERSION = 1

export const DEFAULT_TABLE_PREFIX = "kuilt_raft"

type SupportedDialect = "sqlite" | "pg" | "mysql"

interface Types {
  readonly int: string
  readonly blob: string
  readonly text: string
}

const TYPES: Record<SupportedDialect, Types> = {
  sqlite: { int: "INTEGER", blob: "BLOB", text: "TEXT" },
  pg: { int: "BIGINT", blob: "BYTEA", text: "TEXT" },
  mysql: { int: "BIGINT", blob: "LONGBLOB", text: "TEXT" }
}

/** The SQL of one storage: every statement it runs, as strings with dialect placeholders. */
export interface Statements {
  readonly dialect: SupportedDialect
  readonly createSchemaTable: string
  readonly selectVersion: string
  readonly insertVersion: string
  readonly updateVersion: string
  readonly migrations: ReadonlyArray<ReadonlyArray<string>>
  readonly selectState: string
  readonly insertState: string
  readonly updateState: string
  readonly selectSnapshot: string
  readonly deleteSnapshot: string
  readonly insertSnapshot: string
  readonly selectLog: string
  readonly selectLogRange: string
  readonly selectRun: string
  readonly insertRun: string
  readonly updateRun: string
  readonly deleteRunsFrom: string
  readonly deleteRunsThrough: string
  readonly deleteAllRuns: string
}

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/

/** Builds the statements for `sql`'s dialect, or fails for a bad prefix or an unsupported dialect. */
export const statementsFor = (sql: SqlClient, prefix: string): Effect.Effect<Statements, StorageError> => {
  if (!PREFIX.test(prefix)) {
    return Effect.fail(new StorageError({ reason: `table prefix ${JSON.stringify(prefix)} must match ${PREFIX}` }))
  }
  const dialect = sql.onDialectOrElse({
    sqlite: () => "sqlite" as const,
    pg: () => "pg" as const,
    mysql: () => "mysql" as const,
    orElse: () => undefined
  })
  if (dialect === undefined) {
    return Effect.fail(new StorageError({ reason: "SqlRaftStorage supports the sqlite, pg and mysql dialects" }))
  }
  return Effect.succeed(build(dialect, prefix))
}

const build = (dialect: SupportedDialect, p: string): Statements => {
  const { blob, int, text } = TYPES[dialect]
  // Positional placeholders: `?` for SQLite and MySQL, `$n` for PostgreSQL.
  const ph = (n: number): string => Array.from({ length: n }, (_, i) => (dialect === "pg" ? `$${i + 1}` : "?")).join(", ")
  const set = (cols: ReadonlyArray<string>, offset = 0) =>
    cols.map((c, i) => `${c} = ${dialect === "pg" ? `$${offset + i + 1}` : "?"}`).join(", ")
  const at = (n: number) => (dialect === "pg" ? `$${n}` : "?")
  const stateCols = ["term", "voted_for", "leader_term", "leader_id", "log_floor", "crc"]
  return {
    dialect,
    createSchemaTable: `CREATE TABLE IF NOT EXISTS ${p}_schema (id ${int} PRIMARY KEY, version ${int} NOT NULL)`,
    selectVersion: `SELECT version FROM ${p}_schema WHERE id = 1`,
    insertVersion: `INSERT INTO ${p}_schema (id, version) VALUES (1, ${at(1)})`,
    updateVersion: `UPDATE ${p}_schema SET version = ${at(1)} WHERE id = 1`,
    migrations: [
      // Version 1: the state row (created at term 0), the snapshot and the log.
      [
        `CREATE TABLE ${p}_state (id ${int} PRIMARY KEY, term ${int} NOT NULL, voted_for ${text}, ` +
        `leader_term ${int}, leader_id ${text}, log_floor ${int} NOT NULL, crc ${int} NOT NULL)`,
        `CREATE TABLE ${p}_snapshot (id ${int} PRIMARY KEY, last_index ${int} NOT NULL, last_term ${int} NOT NULL, ` +
        `config ${blob} NOT NULL, state ${blob} NOT NULL, crc ${int} NOT NULL)`,
        `CREATE TABLE ${p}_log (first_index ${int} PRIMARY KEY, last_index ${int} NOT NULL, ` +
        `data ${blob} NOT NULL, crc ${int} NOT NULL)`
      ]
    ],
    selectState: `SELECT ${stateCols.join(", ")} FROM ${p}_state WHERE id = 1`,
    insertState: `INSERT INTO ${p}_state (id, ${stateCols.join(", ")}) VALUES (1, ${ph(6)})`,
    updateState: `UPDATE ${p}_state SET ${set(stateCols)} WHERE id = 1`,
    selectSnapshot: `SELECT last_index, last_term, config, state, crc FROM ${p}_snapshot WHERE id = 1`,
    deleteSnapshot: `DELETE FROM ${p}_snapshot`,
    insertSnapshot: `INSERT INTO ${p}_snapshot (id, last_index, last_term, config, state, crc) VALUES (1, ${ph(5)})`,
    selectLog: `SELECT first_index, last_index, data, crc FROM ${p}_log ORDER BY first_index`,
    selectLogRange: `SELECT first_index, last_index, data, crc FROM ${p}_log ` +
      `WHERE first_index >= ${at(1)} AND first_index < ${at(2)} ORDER BY first_index`,
    selectRun: `SELECT first_index, last_index, data, crc FROM ${p}_log WHERE first_index = ${at(1)}`,
    insertRun: `INSERT INTO ${p}_log (first_index, last_index, data, crc) VALUES (${ph(4)})`,
    updateRun: `UPDATE ${p}_log SET ${set(["last_index", "data", "crc"])} WHERE first_index = ${at(4)}`,
    deleteRunsFrom: `DELETE FROM ${p}_log WHERE first_index >= ${at(1)}`,
    deleteRunsThrough: `DELETE FROM ${p}_log WHERE first_index <= ${at(1)}`,
    deleteAllRuns: `DELETE FROM ${p}_log`
  }
}

/** A SQL failure as the storage contract's error. */
export const sqlFailure = (what: string) => (cause: SqlError): StorageError =>
  new StorageError({ reason: `${what}: ${cause.message}${causeText(cause.cause)}`, cause })

const causeText = (cause: unknown): string =>
  cause instanceof Error && cause.message !== "" ? ` (${cause.message})` : ""

/** A non-negative safe integer from a driver value (number, bigint or decimal string), else undefined. */
export const toIndex = (value: unknown): number | undefined => {
  const n = typeof value === "number"
    ? value
    : typeof value === "bigint"
    ? Number(value)
    : typeof value === "string" && /^\d{1,16}$/.test(value)
    ? Number(value)
    : NaN
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/**
 * Creates or migrates the tables, in one transaction: reads the recorded version (none: 0),
 * refuses a version newer than this code knows, runs the missing migrations in order and records
 * the new version. Idempotent: on an up-to-date database it only reads the version.
 */
export const migrate = (sql: SqlClient, st: Statements): Effect.Effect<void, StorageError> =>
  Effect.gen(function*() {
    yield* sql.unsafe(st.createSchemaTable).raw
    const rows = yield* sql.unsafe(st.selectVersion).values
    const recorded = rows.length === 0 ? 0 : toIndex(rows[0]![0])
    if (recorded === undefined) {
      return yield* new StorageError({ reason: `unreadable schema version ${String(rows[0]![0])}` })
    }
    if (recorded > SCHEMA_VERSION) {
      return yield* new StorageError({
        reason: `the database is at schema version ${recorded}, newer than this version of kuilt (${SCHEMA_VERSION})`
      })
    }
    if (recorded === SCHEMA_VERSION) return
    for (let v = recorded + 1; v <= SCHEMA_VERSION; v++) {
      for (const ddl of st.migrations[v - 1]!) yield* sql.unsafe(ddl).raw
      if (v === 1) {
        const empty = { term: 0, votedFor: null }
        yield* sql.unsafe(st.insertState, [0, null, null, null, 0, stateChecksum(empty, null, 0)]).raw
      }
    }
    yield* sql.unsafe(rows.length === 0 ? st.insertVersion : st.updateVersion, [SCHEMA_VERSION]).raw
  }).pipe(sql.withTransaction, Effect.mapError((e) => (e._tag === "SqlError" ? sqlFailure("schema migration failed")(e) : e)))
