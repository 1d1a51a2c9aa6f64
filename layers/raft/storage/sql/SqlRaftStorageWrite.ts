/**
 * The write path of `SqlRaftStorage`: one `WriteBatch` becomes one SQL transaction (group
 * commit), in the contract's order — snapshot, truncate, append, hard state and leader record,
 * prefix discard.
 *
 * The batch is validated against the in-memory mirror first (`validateWriteBatch`; a refused batch
 * touches nothing). The statements are planned from the mirror, run in one transaction, and only
 * when the transaction has committed is the mirror changed the same way. A common turn (append,
 * maybe a new term) is 2–4 statements: BEGIN, one INSERT per run, an UPDATE of the state row when
 * it changed, COMMIT.
 */
import { Effect } from "effect"
import type { SqlClient } from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type { LogEntry } from "../../../../services/raft/LogEntry.js"
import { StorageError } from "../../../../services/raft/RaftErrors.js"
import type { HardState, LeaderForTerm, WriteBatch } from "../../../../services/raft/RaftStorage.js"
import { appendStart } from "../../../../services/raft/validateWriteBatch.js"
import { encodeConfig, encodeRun, runBoundaries, runChecksum, snapshotChecksum, stateChecksum } from "./SqlRaftStorageCodec.js"
import { readRun } from "./SqlRaftStorageLoad.js"
import type { Mirror } from "./SqlRaftStorageMirror.js"
import type { Statements } from "./SqlRaftStorageSchema.js"
import { sqlFailure } from "./SqlRaftStorageSchema.js"

type Stmt = Effect.Effect<unknown, StorageError>

/** A planned write: the statements to run, and the mirror change to make once they committed. */
interface Plan {
  readonly statements: Array<Stmt>
  readonly commit: Array<() => void>
}

/**
 * Plans and runs `batch` (already validated against `mirror`) as one transaction. Fails with
 * `StorageError` when SQL fails (nothing is then changed, in the tables or the mirror) or when a
 * run it must rewrite turns out to be damaged.
 */
export const writeBatch = (
  sql: SqlClient,
  st: Statements,
  mirror: Mirror,
  batch: WriteBatch
): Effect.Effect<void, StorageError> =>
  Effect.suspend(() => {
    const run = (text: string, params: ReadonlyArray<unknown>): Stmt =>
      Effect.mapError(sql.unsafe(text, params).raw, sqlFailure("a write failed"))
    const plan: Plan = { statements: [], commit: [] }
    const s = plan.statements
    const later = (f: () => void) => plan.commit.push(f)

    // 1. Snapshot: replaces the stored one.
    const snapshot = batch.snapshot
    if (snapshot !== undefined) {
      const { lastIncludedIndex: i, lastIncludedTerm: t } = snapshot.meta
      const config = encodeConfig(snapshot.meta.config)
      s.push(run(st.deleteSnapshot, []))
      s.push(run(st.insertSnapshot, [i, t, config, snapshot.state, snapshotChecksum(i, t, config, snapshot.state)]))
      later(() => (mirror.snapshot = snapshot.meta))
    }
    const snapIndex = snapshot?.meta.lastIncludedIndex ?? mirror.snapshot?.lastIncludedIndex ?? 0

    // 2. Truncation. `last` follows what the log will end at; runs are re-planned from it.
    const first = mirror.firstIndex
    let last = mirror.lastIndex
    let cleared = false
    const t = batch.truncateFrom
    if (t !== undefined && first !== undefined && last !== undefined && t <= last) {
      if (t <= first) {
        s.push(run(st.deleteAllRuns, []))
        later(() => mirror.clearLog())
        cleared = true
        last = undefined
      } else {
        const straddler = mirror.runs[mirror.runHolding(t)]!
        s.push(run(st.deleteRunsFrom, [t]))
        if (straddler.first < t) s.push(rewriteRun(sql, st, straddler.first, t - 1))
        later(() => mirror.truncateFrom(t))
        last = t - 1
      }
    }

    // 3. Append, cut into runs; a log left below the snapshot is dropped first (stale entries).
    const append: ReadonlyArray<LogEntry> = batch.append ?? []
    const newRuns: Array<{ first: number; last: number }> = []
    if (append.length > 0) {
      if (appendStart(last, snapIndex).dropsStale && !cleared) {
        s.push(run(st.deleteAllRuns, []))
        later(() => mirror.clearLog())
        cleared = true
      }
      let from = 0
      for (const end of runBoundaries(append)) {
        const data = encodeRun(append, from, end)
        const a = append[from]!.index
        const b = append[end - 1]!.index
        s.push(run(st.insertRun, [a, b, data, runChecksum(a, b, data)]))
        const terms = append.slice(from, end).map((e) => e.term)
        later(() => mirror.appendRun(a, terms))
        newRuns.push({ first: a, last: b })
        from = end
      }
    }

    // 4–6. Hard state, leader record and the discard floor share the state row.
    const hard: HardState = batch.hardState ?? mirror.hardState
    const leader: LeaderForTerm | null = batch.leaderForTerm ?? mirror.leaderForTerm
    const floor = batch.discardThrough === undefined ? mirror.floor : Math.max(mirror.floor, batch.discardThrough)
    if (batch.hardState !== undefined || batch.leaderForTerm !== undefined || floor !== mirror.floor) {
      s.push(run(st.updateState, [
        hard.term,
        hard.votedFor,
        leader?.term ?? null,
        leader?.leaderId ?? null,
        floor,
        stateChecksum(hard, leader, floor)
      ]))
      later(() => {
        mirror.hardState = hard
        mirror.leaderForTerm = leader
        mirror.floor = floor
      })
    }
    // Runs wholly at or below the floor go; a straddling run keeps its dead prefix until then.
    // (Only a discard moves the floor; truncations and appends never leave a run below it.)
    if (batch.discardThrough !== undefined) {
      const kept = cleared || last === undefined ? 0 : mirror.runHolding(last) + 1
      const spanAt = (k: number) =>
        k < kept ? { first: mirror.runs[k]!.first, last: Math.min(mirror.runs[k]!.last, last!) } : newRuns[k - kept]!
      let dead = 0
      while (dead < kept + newRuns.length && spanAt(dead).last <= floor) dead++
      if (dead > 0) {
        s.push(run(st.deleteRunsThrough, [spanAt(dead - 1).first]))
        later(() => mirror.dropRuns(dead))
      }
    }

    if (s.length === 0) return Effect.void
    return Effect.all(s, { discard: true }).pipe(
      sql.withTransaction,
      Effect.mapError((e) => (e._tag === "SqlError" ? sqlFailure("the write transaction failed")(e) : e)),
      // `withTransaction` turns a failed COMMIT (or ROLLBACK) into a defect; on SQLite (WAL) the
      // sync happens at COMMIT, so an fsync or I/O failure lands there. It must be a
      // `StorageError` like any failed write (fail-stop, typed). SQLite may leave the transaction
      // open after a failed COMMIT: roll it back (best effort), so none of the batch can persist.
      Effect.catchAllDefect((defect) =>
        isSqlError(defect)
          ? Effect.zipRight(
            Effect.ignore(sql.unsafe("ROLLBACK").raw),
            Effect.fail(sqlFailure("the write transaction failed to commit or roll back")(defect))
          )
          : Effect.die(defect)
      ),
      Effect.zipRight(Effect.sync(() => {
        for (const f of plan.commit) f()
      }))
    )
  })

const isSqlError = (u: unknown): u is SqlError => u instanceof SqlError

/** Reads the run at `first`, keeps its entries through `newLast`, and writes it back. */
const rewriteRun = (
  sql: SqlClient,
  st: Statements,
  first: number,
  newLast: number
): Stmt =>
  Effect.gen(function*() {
    const rows = yield* Effect.mapError(sql.unsafe(st.selectRun, [first]).values, sqlFailure("reading a run to cut failed"))
    if (rows.length !== 1) return yield* new StorageError({ reason: `the log row at ${first} is missing` })
    const decoded = yield* Effect.try({
      try: () => readRun(rows[0]!),
      catch: (e) => new StorageError({ reason: `the log row at ${first} is damaged: ${(e as { reason?: string }).reason ?? String(e)}` })
    })
    const kept = decoded.entries.slice(0, newLast - first + 1)
    const data = encodeRun(kept, 0, kept.length)
    yield* Effect.mapError(
      sql.unsafe(st.updateRun, [newLast, data, runChecksum(first, newLast, data), first]).raw,
      sqlFailure("rewriting a cut run failed")
    )
  })
