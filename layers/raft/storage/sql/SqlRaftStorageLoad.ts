/**
 * Reading `SqlRaftStorage`'s tables back: the whole durable state at start (`readImage`), and
 * ranges of the log (`readRange`).
 *
 * `readImage` trusts nothing it reads. Each row's CRC must match, each run must decode and hold
 * exactly the entries its key columns claim, runs must follow each other without a gap or an
 * overlap, the floor must be covered by the snapshot, and the result must pass the engine's own
 * `validateDurableState`. Any failure is `CorruptDurableState` naming the row: a node must not
 * start on a log it cannot vouch for (a hole would make it acknowledge entries it does not hold).
 */
import { Effect, Either } from "effect"
import type { SqlClient } from "@effect/sql/SqlClient"
import type { LogEntry } from "../../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../../services/raft/NodeId.js"
import { CorruptDurableState, StorageError } from "../../../../services/raft/RaftErrors.js"
import type { DurableState, LeaderForTerm, StoredSnapshot } from "../../../../services/raft/RaftStorage.js"
import { validateDurableState } from "../../../../services/raft/validateDurableState.js"
import { decodeConfig, decodeRun, runChecksum, snapshotChecksum, stateChecksum } from "./SqlRaftStorageCodec.js"
import { Mirror } from "./SqlRaftStorageMirror.js"
import type { Statements } from "./SqlRaftStorageSchema.js"
import { sqlFailure, toIndex } from "./SqlRaftStorageSchema.js"

/** A problem found in the stored data (thrown inside the synchronous parsing, caught once). */
class Damage {
  constructor(readonly reason: string) {}
}

const index = (value: unknown, what: string): number => {
  const n = toIndex(value)
  if (n === undefined) throw new Damage(`${what} ${String(value)} is not a safe integer in 0..2^53-1`)
  return n
}

const optionalText = (value: unknown, what: string): string | null => {
  if (value === null) return null
  if (typeof value !== "string") throw new Damage(`${what} is not text`)
  return value
}

const blob = (value: unknown, what: string): Uint8Array => {
  if (!(value instanceof Uint8Array)) throw new Damage(`${what} is not a byte string`)
  return value
}

/** Decodes with the codec, turning its `DecodeError` into damage of `what`. */
const decoded = <A>(what: string, decode: () => A): A => {
  try {
    return decode()
  } catch (e) {
    throw new Damage(`${what} does not decode: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** A log row, checked against its CRC and decoded. */
export const readRun = (row: ReadonlyArray<unknown>): { first: number; last: number; entries: Array<LogEntry> } => {
  const first = index(row[0], "a log row's first index")
  const last = index(row[1], `the last index of the log row at ${first}`)
  const data = blob(row[2], `the data of the log row at ${first}`)
  const crc = index(row[3], `the checksum of the log row at ${first}`)
  if (first < 1 || last < first) throw new Damage(`the log row at ${first} claims the range ${first}..${last}`)
  if (runChecksum(first, last, data) !== crc) throw new Damage(`checksum mismatch in the log row ${first}..${last}`)
  const entries = decoded(`the log row ${first}..${last}`, () => decodeRun(data, first))
  if (entries.length !== last - first + 1) {
    throw new Damage(`the log row ${first}..${last} holds ${entries.length} entries`)
  }
  return { first, last, entries }
}

export interface Image {
  readonly state: DurableState
  readonly mirror: Mirror
}

/** Reads and checks everything; `CorruptDurableState` on damage, `StorageError` when SQL fails. */
export const readImage = (sql: SqlClient, st: Statements): Effect.Effect<Image, StorageError | CorruptDurableState> =>
  Effect.gen(function*() {
    const [stateRows, snapshotRows, logRows] = yield* Effect.all([
      sql.unsafe(st.selectState).values,
      sql.unsafe(st.selectSnapshot).values,
      sql.unsafe(st.selectLog).values
    ]).pipe(sql.withTransaction, Effect.mapError(sqlFailure("reading the durable state failed")))
    const parsed = Either.try({
      try: () => parse(stateRows, snapshotRows, logRows),
      catch: (e) => (e instanceof Damage ? e : new Damage(`unexpected: ${String(e)}`))
    })
    if (Either.isLeft(parsed)) return yield* new CorruptDurableState({ reason: parsed.left.reason })
    const checked = validateDurableState(parsed.right.state)
    if (Either.isLeft(checked)) return yield* checked.left
    return parsed.right
  })

const parse = (
  stateRows: ReadonlyArray<ReadonlyArray<unknown>>,
  snapshotRows: ReadonlyArray<ReadonlyArray<unknown>>,
  logRows: ReadonlyArray<ReadonlyArray<unknown>>
): Image => {
  const mirror = new Mirror()
  if (stateRows.length !== 1) throw new Damage(`expected one state row, found ${stateRows.length}`)
  const s = stateRows[0]!
  const term = index(s[0], "the hard-state term")
  const votedFor = optionalText(s[1], "votedFor") as NodeId | null
  const leaderTerm = s[2] === null ? null : index(s[2], "the leader-for-term term")
  const leaderId = optionalText(s[3], "the leader-for-term id") as NodeId | null
  if ((leaderTerm === null) !== (leaderId === null)) throw new Damage("the leader-for-term record is half missing")
  const leader: LeaderForTerm | null = leaderTerm === null ? null : { term: leaderTerm, leaderId: leaderId! }
  const floor = index(s[4], "the discarded-prefix floor")
  if (stateChecksum({ term, votedFor }, leader, floor) !== index(s[5], "the state row's checksum")) {
    throw new Damage("checksum mismatch in the state row")
  }
  mirror.hardState = { term, votedFor }
  mirror.leaderForTerm = leader
  mirror.floor = floor

  let snapshot: StoredSnapshot | null = null
  if (snapshotRows.length > 1) throw new Damage(`expected at most one snapshot row, found ${snapshotRows.length}`)
  if (snapshotRows.length === 1) {
    const r = snapshotRows[0]!
    const lastIncludedIndex = index(r[0], "the snapshot's lastIncludedIndex")
    const lastIncludedTerm = index(r[1], "the snapshot's lastIncludedTerm")
    const configBytes = blob(r[2], "the snapshot's config")
    const state = blob(r[3], "the snapshot's state")
    if (snapshotChecksum(lastIncludedIndex, lastIncludedTerm, configBytes, state) !== index(r[4], "the snapshot's checksum")) {
      throw new Damage(`checksum mismatch in the snapshot at ${lastIncludedIndex}`)
    }
    const config = decoded("the snapshot's config", () => decodeConfig(configBytes))
    snapshot = { meta: { lastIncludedIndex, lastIncludedTerm, config }, state: Uint8Array.from(state) }
    mirror.snapshot = snapshot.meta
  }
  const snapIndex = snapshot?.meta.lastIncludedIndex ?? 0
  if (floor > snapIndex) {
    throw new Damage(`entries through ${floor} were discarded, but ${snapshot === null ? "there is no snapshot" : `the snapshot is at ${snapIndex}`}`)
  }

  const entries: Array<LogEntry> = []
  const above = Math.max(floor, snapIndex)
  for (const row of logRows) {
    const run = readRun(row)
    const prev = mirror.lastIndex
    if (prev !== undefined && run.first !== prev + 1) {
      throw new Damage(
        run.first > prev + 1
          ? `entries ${prev + 1}..${run.first - 1} are missing from the log`
          : `the log row at ${run.first} overlaps the one ending at ${prev}`
      )
    }
    mirror.appendRun(run.first, run.entries.map((e) => e.term))
    for (const e of run.entries) if (e.index > above) entries.push(e)
  }
  return { mirror, state: { hardState: mirror.hardState, leaderForTerm: leader, snapshot, entries } }
}

/**
 * The live entries with `from ≤ index < toExclusive`, read from the runs that hold them. A
 * damaged row fails with `StorageError` (the contract's read error) naming it.
 */
export const readRange = (
  sql: SqlClient,
  st: Statements,
  mirror: Mirror,
  from: number,
  toExclusive: number
): Effect.Effect<ReadonlyArray<LogEntry>, StorageError> =>
  Effect.suspend(() => {
    const first = mirror.firstIndex
    const last = mirror.lastIndex
    if (first === undefined || last === undefined) return Effect.succeed([])
    const lo = Math.max(from, first)
    const hi = Math.min(toExclusive, last + 1)
    if (lo >= hi) return Effect.succeed([])
    const startRun = mirror.runs[mirror.runHolding(lo)]!.first
    return sql.unsafe(st.selectLogRange, [startRun, hi]).values.pipe(
      Effect.mapError(sqlFailure("reading log entries failed")),
      Effect.flatMap((rows) =>
        Either.try({
          try: () => {
            const out: Array<LogEntry> = []
            for (const row of rows) for (const e of readRun(row).entries) if (e.index >= lo && e.index < hi) out.push(e)
            return out
          },
          catch: (e) => new StorageError({ reason: e instanceof Damage ? `corrupt log: ${e.reason}` : String(e) })
        })
      )
    )
  })
