/**
 * Durable-storage benchmark (`npm run bench:storage`): a 3-voter in-process cluster (InMemoryLoom,
 * real clock) whose nodes each write a SQLite file through `SqlRaftStorage`, beside a baseline
 * measured in the same run through the same driver:
 *
 * - `storage.raft.sequential`: one proposer, propose → commit (p50/p99);
 * - `storage.raft.throughput.256`: commits/s with 256 concurrent proposers, plus the longest
 *   event-loop stall seen meanwhile (`perf_hooks.monitorEventLoopDelay`, 1 ms resolution), the
 *   mean number of entries per append the engines wrote (leader and followers) and the writes
 *   (transactions) per second of all three nodes;
 * - `storage.memory.*`: the same cluster and load on `InMemoryRaftStorage` as it is (writes
 *   complete synchronously on the engine's fast path, nothing ever yields a macrotask);
 * - `storage.memory_yield.*`: the same with every write preceded by the macrotask yield
 *   `SqlRaftStorage` uses on the main thread: what the engines, the fabric and the garbage
 *   collector cost without any storage — the stall baseline. Every `throughput` figure also
 *   reports the p99 loop delay and the garbage collector's pauses (`gc_*`: the longest, its kind,
 *   their total and count; null when none could be observed: the observer needs the event loop,
 *   which `memory` starves);
 * - `BENCH_STORAGE_ONLY=worker|main|memory|memory_yield` runs that cluster alone (to profile it).
 * - `storage.raft_main_thread.*`: the same with the driver on the main thread (`thread: "main"`)
 *   instead of a worker thread (the default) — the event-loop choice, measured;
 * - `storage.baseline.appends`: raw batched appends with fsync, no Raft: the same number of files
 *   (one per voter — a 3-voter cluster writes every entry three times, and its three workers
 *   fsync in parallel, so the baseline writes the three files concurrently too), the same driver
 *   and client (better-sqlite3 in a worker thread per file, through `SqlClient`), the same
 *   pragmas (WAL, synchronous=FULL,
 *   exclusive lock), the same row layout and the same batch size as the engines produced, each
 *   batch one transaction with one multi-entry row per file, its bytes encoded in advance.
 *   Figure: entries appended to all three files per second.
 * - `storage.baseline_main_thread.appends`: the same through `SqliteClient` on the main thread,
 *   the files one after the other: the baseline of `storage.raft_main_thread.*`;
 * - `storage.baseline_main_thread.entry_rows`: the same with one row per entry (one multi-row
 *   INSERT per batch), for reference: what a row-per-entry layout would cost.
 *
 * Nodes publish a snapshot every 100 ms (as `bench/raft.ts`), so compaction (prefix discards)
 * runs during the measurement, as it would in an application.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { InMemoryLoom, type InMemoryLoomShape } from "../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import * as SqlRaftStorage from "../layers/raft/storage/sql/SqlRaftStorage.js"
import * as SqliteWorkerClient from "../layers/raft/storage/sql/SqliteWorkerClient.js"
import { macrotaskYield } from "../layers/raft/storage/sql/macrotaskYield.js"
import { encodeRun } from "../layers/raft/storage/sql/SqlRaftStorageCodec.js"
import { SeamRaftTransport } from "../layers/raft/transport/SeamRaftTransport.js"
import { DeliveryPolicy } from "../services/seam/DeliveryPolicy.js"
import { ClientId } from "../services/raft/ClientId.js"
import { ClusterConfig } from "../services/raft/ClusterConfig.js"
import type { LogEntry } from "../services/raft/LogEntry.js"
import type { RaftNodeShape } from "../services/raft/RaftNode.js"
import type { RaftStorageShape } from "../services/raft/RaftStorage.js"
import * as Raft from "../src/raft/RaftNode.js"
import { emit, now, printedRecords, round, summarize } from "./stats.js"

const VOTERS = ["n1", "n2", "n3"] as const
const COMMAND = new Uint8Array(16).fill(7)
const THROUGHPUT_MS = 3000
const SEQUENTIAL_N = 2000
const BASELINE_MS = 3000
const COMPACT_EVERY_MS = 100

// ------------------------------------------------------------------ measuring helpers

/** `PerformanceEntry.detail.kind` of a `gc` entry (`perf_hooks.constants.NODE_PERFORMANCE_GC_*`). */
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb"
}

/**
 * The longest event-loop stall (ms) while `effect` runs, and the garbage collector's pauses
 * meanwhile (`gc` performance entries: the longest and their total), so a stall that is a GC
 * pause can be told from one that is our code.
 */
const withStallProbe = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const h = monitorEventLoopDelay({ resolution: 1 })
      const gc = { max: 0, maxKind: 0, total: 0, count: 0 }
      const take = (list: ReadonlyArray<{ duration: number; detail?: unknown }>) => {
        for (const e of list) {
          if (e.duration > gc.max) gc.maxKind = (e.detail as { kind?: number } | undefined)?.kind ?? 0
          gc.max = Math.max(gc.max, e.duration)
          gc.total += e.duration
          gc.count++
        }
      }
      const observer = new PerformanceObserver((list) => take(list.getEntries()))
      observer.observe({ entryTypes: ["gc"] })
      h.enable()
      return { h, gc, observer, take }
    }),
    ({ gc, h, observer, take }) =>
      Effect.map(effect, (a) => {
        take(observer.takeRecords())
        // GC entries reach the observer on the event loop: with a loop that never turned, none
        // did, and "no pause" would be a lie.
        const gcSeen = gc.count > 0
        return {
          result: a,
          maxStallMs: round(h.max / 1e6),
          p99StallMs: round(h.percentile(99) / 1e6),
          gcMaxMs: gcSeen ? round(gc.max) : null,
          gcMaxKind: gcSeen ? GC_KINDS[gc.maxKind] ?? String(gc.maxKind) : null,
          gcTotalMs: gcSeen ? Math.round(gc.total) : null,
          gcCount: gc.count
        }
      }),
    ({ h, observer }) => Effect.sync(() => (h.disable(), observer.disconnect()))
  )

/** Writes (transactions) and entries per append, over every write of every node. */
const appendStats = { writes: 0, entries: 0, allWrites: 0 }

const counted = (storage: RaftStorageShape): RaftStorageShape => ({
  ...storage,
  write: (batch) => {
    const n = batch.append?.length ?? 0
    if (n > 0) {
      appendStats.writes++
      appendStats.entries += n
    }
    appendStats.allWrites++
    return storage.write(batch)
  }
})

// ------------------------------------------------------------------ the durable cluster

interface Member {
  readonly id: string
  readonly node: RaftNodeShape
  readonly scope: Scope.CloseableScope
}

type Thread = "worker" | "main"
/**
 * Where the cluster's storage lives: SQLite (driver in a worker or on the main thread) or memory —
 * as is (`memory`: synchronous writes on the engine's fast path, the event loop never turns on its
 * own) or behind the same macrotask yield as `SqlRaftStorage` (`memory_yield`).
 */
type Mode = Thread | "memory" | "memory_yield"

/** `storage` with every write preceded by `macrotaskYield` (and so off the engine's fast path). */
const yielding = (storage: RaftStorageShape): RaftStorageShape => ({
  load: storage.load,
  entries: storage.entries,
  write: (batch) => Effect.zipRight(macrotaskYield, storage.write(batch))
})

const startMember = (loom: InMemoryLoomShape, cluster: ClusterConfig, dir: string, id: string, host: boolean, mode: Mode) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const seam = yield* (host
      ? loom.host({ sessionName: "bench", peerKey: id, maxPeers: 16 })
      : loom.join({ sessionName: "bench", peerKey: id })).pipe(Scope.extend(scope))
    const storage = mode === "memory"
      ? yield* InMemoryRaftStorage.make()
      : mode === "memory_yield"
      ? yielding(yield* InMemoryRaftStorage.make())
      : yield* SqlRaftStorage.makeSqlite({ filename: join(dir, `${mode}-${id}.sqlite`), thread: mode }).pipe(
        Scope.extend(scope)
      )
    const node = yield* Raft.make({ cluster, transport: SeamRaftTransport.fromSeam(seam), storage: counted(storage) }).pipe(
      Scope.extend(scope)
    )
    const compact = Effect.forever(
      Effect.zipRight(
        Effect.sleep(COMPACT_EVERY_MS),
        Effect.flatMap(node.commitIndex.get, (throughIndex) =>
          throughIndex > 0 ? node.publishSnapshot({ throughIndex, state: new Uint8Array(8) }) : Effect.void)
      )
    )
    yield* Effect.forkIn(compact, scope)
    return { id, node, scope } satisfies Member
  })

const awaitLeader = (members: ReadonlyArray<Member>) =>
  Effect.raceAll(members.map((m) => m.node.awaitLeadership.pipe(Effect.as(m))))

/**
 * The figures' names: the default (driver in a worker thread) is `storage.raft.*`; the same
 * cluster on `InMemoryRaftStorage` is `storage.memory.*` (the engine's and GC's share of a stall).
 */
const prefixOf = (mode: Mode) =>
  mode === "worker" ? "storage.raft" : mode === "main" ? "storage.raft_main_thread" : `storage.${mode}`

const runCluster = (dir: string, mode: Mode) =>
  Effect.scoped(Effect.gen(function*() {
    const cluster = ClusterConfig.ofVoters(...VOTERS)
    const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(1 << 16) })
    const members: Array<Member> = []
    for (const [i, id] of VOTERS.entries()) members.push(yield* startMember(loom, cluster, dir, id, i === 0, mode))
    const ref = { current: yield* awaitLeader(members) }
    let errors = 0
    const relocate = Effect.suspend(() => {
      errors++
      return Effect.map(awaitLeader(members), (m) => void (ref.current = m))
    })
    const propose = Effect.suspend(() => ref.current.node.propose(COMMAND)).pipe(Effect.catchAll(() => relocate))

    // Warm-up, then one proposer.
    yield* Effect.forEach(Array.from({ length: 16 }), () => Effect.repeatN(propose, 50), { concurrency: "unbounded" })
    const samples: Array<number> = []
    for (let i = 0; i < SEQUENTIAL_N; i++) {
      const t0 = now()
      yield* propose
      samples.push(now() - t0)
    }
    emit({ bench: `${prefixOf(mode)}.sequential`, ...summarize(samples), ...(errors > 0 ? { errors } : {}) })

    appendStats.writes = 0
    appendStats.entries = 0
    appendStats.allWrites = 0
    errors = 0
    const { gcCount, gcMaxKind, gcMaxMs, gcTotalMs, maxStallMs, p99StallMs, result: done } = yield* withStallProbe(Effect.gen(function*() {
      let done = 0
      const end = now() + THROUGHPUT_MS
      const worker = Effect.gen(function*() {
        while (now() < end) {
          yield* propose
          done++
        }
      })
      yield* Effect.forEach(Array.from({ length: 256 }), () => worker, { concurrency: "unbounded", discard: true })
      return done
    }))
    const meanBatch = appendStats.writes === 0 ? 1 : appendStats.entries / appendStats.writes
    emit({
      bench: `${prefixOf(mode)}.throughput.256`,
      commits_per_s: Math.round((done - errors) / (THROUGHPUT_MS / 1000)),
      max_stall_ms: maxStallMs,
      p99_stall_ms: p99StallMs,
      gc_max_ms: gcMaxMs,
      gc_max_kind: gcMaxKind,
      gc_total_ms: gcTotalMs,
      gc_count: gcCount,
      mean_append_entries: round(meanBatch),
      writes_per_s: Math.round(appendStats.allWrites / (THROUGHPUT_MS / 1000)),
      ...(errors > 0 ? { errors } : {})
    })
    for (const m of members) yield* Scope.close(m.scope, Exit.void)
    return Math.max(1, Math.round(meanBatch))
  }))

// ------------------------------------------------------------------ the raw baseline

const openRaw = (file: string, scope: Scope.Scope, thread: Thread) =>
  Effect.gen(function*() {
    const sql = thread === "main"
      ? Context.get(yield* Layer.build(SqliteClient.layer({ filename: file })).pipe(Scope.extend(scope)), SqlClient)
      : yield* SqliteWorkerClient.make({ filename: file }).pipe(Scope.extend(scope))
    for (const pragma of ["busy_timeout = 0", "locking_mode = EXCLUSIVE", "synchronous = FULL"]) {
      yield* sql.unsafe(`PRAGMA ${pragma}`).raw
    }
    yield* sql.unsafe("CREATE TABLE log (first_index INTEGER PRIMARY KEY, last_index INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL)").raw
    yield* sql.unsafe("CREATE TABLE entry (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)").raw
    return sql
  })

/**
 * Appends `batch`-entry batches to three files for `BASELINE_MS`: entries appended to all three
 * per second. With the driver in worker threads the three files are written concurrently (one
 * fiber each, as three nodes would), on the main thread one after the other (it cannot overlap).
 */
const runBaseline = (dir: string, batch: number, layout: "runs" | "rows", thread: Thread) =>
  Effect.scoped(Effect.gen(function*() {
    const scope = yield* Effect.scope
    const files = yield* Effect.forEach(VOTERS, (id) => openRaw(join(dir, `raw-${layout}-${thread}-${id}.sqlite`), scope, thread))
    const entries: Array<LogEntry> = Array.from({ length: batch }, (_, k) => ({
      _tag: "Command",
      index: k + 1,
      term: 1,
      command: COMMAND,
      dedupKey: { clientId: ClientId.make("bench"), requestId: k }
    }))
    const data = encodeRun(entries, 0, entries.length)
    const rowSql = `INSERT INTO entry (idx, data) VALUES ${Array.from({ length: batch }, () => "(?, ?)").join(", ")}`
    let next = 1
    // No stall probe here: this loop never yields, which is what a baseline of raw appends is.
    const ms = yield* Effect.gen(function*() {
      const t0 = now()
      while (now() - t0 < BASELINE_MS) {
        const first = next
        next += batch
        yield* Effect.forEach(files, (sql) => {
          const insert = layout === "runs"
            ? sql.unsafe("INSERT INTO log (first_index, last_index, data, crc) VALUES (?, ?, ?, ?)", [first, first + batch - 1, data, 0]).raw
            : sql.unsafe(rowSql, entries.flatMap((_, k) => [first + k, COMMAND])).raw
          return sql.withTransaction(insert)
        }, { concurrency: thread === "worker" ? "unbounded" : 1, discard: true })
      }
      return now() - t0
    })
    return { entries_per_s: Math.round((next - 1) / (ms / 1000)), batch }
  }))

// ------------------------------------------------------------------ main

const main = Effect.acquireUseRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "kuilt-bench-storage-"))),
  (dir) => Effect.gen(function*() {
    // `BENCH_STORAGE_ONLY=worker|main|memory`: that cluster alone (to profile one mode).
    const only = process.env.BENCH_STORAGE_ONLY as Mode | undefined
    if (only !== undefined) return void (yield* runCluster(dir, only))
    yield* runCluster(dir, "memory")
    yield* runCluster(dir, "memory_yield")
    const batch = yield* runCluster(dir, "worker")
    yield* runCluster(dir, "main")
    emit({ bench: "storage.baseline.appends", ...(yield* runBaseline(dir, batch, "runs", "worker")) })
    emit({ bench: "storage.baseline_main_thread.appends", ...(yield* runBaseline(dir, batch, "runs", "main")) })
    emit({ bench: "storage.baseline_main_thread.entry_rows", ...(yield* runBaseline(dir, batch, "rows", "main")) })
    const figure = (name: string) => printedRecords().get(name)!
    const ratio = (raft: string, base: string) =>
      round((figure(raft).commits_per_s as number) / (figure(base).entries_per_s as number), 3)
    emit({
      bench: "summary.storage",
      commits_per_s: figure("storage.raft.throughput.256").commits_per_s as number,
      ratio_vs_baseline: ratio("storage.raft.throughput.256", "storage.baseline.appends"),
      max_stall_ms: figure("storage.raft.throughput.256").max_stall_ms as number,
      gc_max_ms: figure("storage.raft.throughput.256").gc_max_ms as number,
      memory_commits_per_s: figure("storage.memory.throughput.256").commits_per_s as number,
      memory_max_stall_ms: figure("storage.memory.throughput.256").max_stall_ms as number,
      memory_yield_commits_per_s: figure("storage.memory_yield.throughput.256").commits_per_s as number,
      memory_yield_max_stall_ms: figure("storage.memory_yield.throughput.256").max_stall_ms as number,
      memory_yield_gc_max_ms: figure("storage.memory_yield.throughput.256").gc_max_ms as number,
      sequential_p50_us: figure("storage.raft.sequential").p50_us as number,
      sequential_p99_us: figure("storage.raft.sequential").p99_us as number,
      main_thread_commits_per_s: figure("storage.raft_main_thread.throughput.256").commits_per_s as number,
      main_thread_ratio_vs_baseline: ratio("storage.raft_main_thread.throughput.256", "storage.baseline_main_thread.appends"),
      main_thread_max_stall_ms: figure("storage.raft_main_thread.throughput.256").max_stall_ms as number,
      entry_rows_vs_runs: round(
        (figure("storage.baseline_main_thread.entry_rows").entries_per_s as number) /
          (figure("storage.baseline_main_thread.appends").entries_per_s as number),
        3
      )
    })
  }),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

Effect.runPromise(main).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
