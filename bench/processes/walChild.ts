/**
 * The disk's own speed, for the SQLite ratio: single-row transactions on a better-sqlite3 database
 * in WAL mode with `synchronous = FULL` (what `SqlRaftStorage` sets), one at a time, in a process
 * of its own, on the same file system as the benchmark's SQLite nodes.
 */
import { Effect } from "effect"
import { createRequire } from "node:module"
import { join } from "node:path"
import { summarize } from "../stats.js"
import { runChild } from "./child.js"

/** The part of better-sqlite3's API used here (the package ships no types). */
interface Db {
  pragma(source: string): unknown
  exec(source: string): void
  prepare(source: string): { run(...params: ReadonlyArray<unknown>): unknown }
  transaction<A extends ReadonlyArray<unknown>>(f: (...args: A) => unknown): (...args: A) => unknown
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => Db

export interface WalArgs {
  readonly dir: string
}

runChild((args: WalArgs) =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.sync(() => new Database(join(args.dir, "wal-baseline.sqlite"))),
      (d) => Effect.sync(() => d.close())
    )
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = FULL")
    db.exec("CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, data BLOB NOT NULL)")
    const insert = db.prepare("INSERT INTO log (idx, term, data) VALUES (?, ?, ?)")
    const commit = db.transaction((i: number) => insert.run(i, 1, Buffer.alloc(16)))
    let next = 1
    return {
      info: null,
      handlers: {
        /** `n` sequential one-row commits: latency summary (µs). */
        commits: ({ n }: { n: number }) =>
          Effect.sync(() => {
            for (let i = 0; i < 50; i++) commit(next++) // warm-up
            const samples: Array<number> = []
            for (let i = 0; i < n; i++) {
              const t0 = performance.now()
              commit(next++)
              samples.push(performance.now() - t0)
            }
            return summarize(samples)
          })
      }
    }
  })
)
