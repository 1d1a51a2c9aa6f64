/**
 * The typed failure of a SQLite storage whose optional driver is not installed (see
 * `SqliteDriver.ts`, which loads the drivers on use).
 */
import { Data } from "effect"

/**
 * A SQLite storage was asked for and its driver is not installed. `module` is the missing
 * package; install it (`npm install <module>`) or use another storage.
 */
export class SqliteDriverMissing extends Data.TaggedError("SqliteDriverMissing")<{
  /** The package that could not be loaded. */
  readonly module: "better-sqlite3" | "@effect/sql-sqlite-node"
  /** What needed it, e.g. `SqlRaftStorage.layerSqlite`. */
  readonly feature: string
  readonly cause?: unknown
}> {
  override get message() {
    return `${this.feature} needs the optional peer dependency ${this.module}, which is not installed: ` +
      `run \`npm install ${this.module}\` (or use another RaftStorage)`
  }
}

