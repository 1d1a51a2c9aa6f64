/**
 * Throughput of IndexedDbRaftStorage in the page, beside a baseline measured in the same run: raw
 * IndexedDB transactions (same durability, same number of records of the same encoded size per
 * transaction, no validation, codec or checksum; also with `relaxed` durability for context).
 * Reports median entries/s for 1-entry and 64-entry batches; `bench/indexeddb.ts` runs it in Chromium and prints the figures. A figure, not a test:
 * nothing here asserts a speed.
 */
import { Effect } from "effect"
import * as IndexedDbRaftStorage from "../../layers/raft/storage/indexeddb/IndexedDbRaftStorage.js"
import { encodeEntry, seal } from "../../layers/raft/storage/indexeddb/IndexedDbRaftStorageCodec.js"
import type { CommandEntry } from "../../services/raft/LogEntry.js"
import { ClientId } from "../../services/raft/ClientId.js"

const COMMAND = new Uint8Array(16).fill(7)
const CLIENT = ClientId.make("bench-client")

/** A 16-byte command entry, as a typical proposal. */
const cmd = (index: number, term: number, command: Uint8Array): CommandEntry => ({
  _tag: "Command",
  index,
  term,
  command,
  dedupKey: { clientId: CLIENT, requestId: index }
})

/** Entries/s of `batches` sequential writes of `size` commands each. */
const storageRun = (name: string, size: number, batches: number) =>
  Effect.scoped(Effect.gen(function*() {
    const s = yield* IndexedDbRaftStorage.make({ databaseName: name })
    yield* s.write({ hardState: { term: 1, votedFor: null } })
    let next = 1
    const started = performance.now()
    for (let b = 0; b < batches; b++) {
      const append = Array.from({ length: size }, (_, k) => cmd(next + k, 1, COMMAND))
      yield* s.write({ append })
      next += size
    }
    const ms = performance.now() - started
    return { entriesPerSec: Math.round(((next - 1) / ms) * 1000), batchesPerSec: Math.round((batches / ms) * 1000), ms: Math.round(ms) }
  }))

/** The same shape of work on raw IndexedDB: one transaction per batch, `size` puts each. */
const rawRun = (name: string, size: number, batches: number, durability: IDBTransactionDurability) =>
  Effect.promise(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name, 1)
      r.onupgradeneeded = () => r.result.createObjectStore("entries")
      r.onsuccess = () => resolve(r.result)
      r.onerror = () => reject(r.error)
    })
    // Records of the same size as the storage's, prepared up front (the baseline pays no codec).
    const record = seal(encodeEntry(cmd(1, 1, COMMAND)))
    let next = 1
    const started = performance.now()
    for (let b = 0; b < batches; b++) {
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction("entries", "readwrite", { durability })
        const store = tx.objectStore("entries")
        for (let k = 0; k < size; k++) store.put(record, next + k)
        tx.oncomplete = () => resolve()
        tx.onabort = () => reject(tx.error)
      })
      next += size
    }
    const ms = performance.now() - started
    db.close()
    return { entriesPerSec: Math.round(((next - 1) / ms) * 1000), batchesPerSec: Math.round((batches / ms) * 1000), ms: Math.round(ms) }
  })

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/**
 * Rounds alternate storage and baselines (the machine is shared and noisy: alternating spreads
 * drift over all three), each on a fresh database; the medians are reported.
 */
const ROUNDS = 5

const main = Effect.gen(function*() {
  const out: Record<string, unknown> = {}
  for (const [size, batches] of [[1, 100], [64, 30]] as const) {
    yield* storageRun(`warm-${size}`, size, 20)
    const storage: Array<number> = []
    const strict: Array<number> = []
    const relaxed: Array<number> = []
    for (let r = 0; r < ROUNDS; r++) {
      storage.push((yield* storageRun(`storage-${size}-${r}`, size, batches)).entriesPerSec)
      strict.push((yield* rawRun(`strict-${size}-${r}`, size, batches, "strict")).entriesPerSec)
      relaxed.push((yield* rawRun(`relaxed-${size}-${r}`, size, batches, "relaxed")).entriesPerSec)
    }
    out[`batch${size}`] = {
      storageEntriesPerSec: median(storage),
      rawStrictEntriesPerSec: median(strict),
      rawRelaxedEntriesPerSec: median(relaxed),
      ratioToRawStrict: Math.round((median(storage) / median(strict)) * 100) / 100,
      rounds: { storage, strict, relaxed }
    }
  }
  return out
})

Effect.runPromise(main).then(
  (r) => {
    ;(globalThis as { __kuiltResult?: unknown }).__kuiltResult = r
  },
  (e) => {
    ;(globalThis as { __kuiltError?: unknown }).__kuiltError = String(e)
  }
)
