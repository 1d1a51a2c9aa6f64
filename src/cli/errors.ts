/**
 * The `kuilt` command's failures, each with the exit code scripts can rely on, and the
 * classification of storage failures into the ones an operator can act on.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | done |
 * | 1 | the operation failed (the message says why) |
 * | 2 | bad flags or arguments (usage) |
 * | 3 | no endpoint could be reached |
 * | 4 | the data directory is in use by another process |
 * | 5 | the disk is full |
 * | 6 | outcome unknown: a write may or may not have been applied (retry with the same `--request-id`) |
 * | 7 | a compare-and-swap did not match (`cas`), or a key was not found (`get`) |
 */
import { Data } from "effect"

export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Unreachable: 3,
  DataDirInUse: 4,
  DiskFull: 5,
  OutcomeUnknown: 6,
  NoMatch: 7
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** A failure of the command, printed as one line `kuilt: <message>`, exiting with `code`. */
export class CliError extends Data.TaggedError("CliError")<{ readonly code: ExitCode; readonly message: string }> {}

export const usage = (message: string) => new CliError({ code: ExitCode.Usage, message })
export const failed = (message: string) => new CliError({ code: ExitCode.Failed, message })

const LOCKED = /database is locked|SQLITE_BUSY|locked by another/i
const FULL = /SQLITE_FULL|disk is full|ENOSPC|no space left/i
const READ_ONLY = /SQLITE_READONLY|EACCES|EROFS|read-only|permission denied/i

/**
 * What a storage failure means for an operator: the data directory is used by another process
 * (SQLite's lock), the disk is full, or something else (the reason as given).
 */
export const classifyStorageFailure = (reason: string, where: string): CliError => {
  if (LOCKED.test(reason)) {
    return new CliError({
      code: ExitCode.DataDirInUse,
      message: `the data directory ${where} is in use by another process (its SQLite files are locked); stop it or pick another --data-dir`
    })
  }
  if (FULL.test(reason)) return new CliError({ code: ExitCode.DiskFull, message: `the disk holding ${where} is full: ${reason}` })
  if (READ_ONLY.test(reason)) return new CliError({ code: ExitCode.Failed, message: `cannot write to ${where}: ${reason}` })
  return new CliError({ code: ExitCode.Failed, message: `storage failure in ${where}: ${reason}` })
}
