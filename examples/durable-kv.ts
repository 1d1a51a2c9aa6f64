/**
 * `npm run example:durable-kv -- [--db <file>] [key=value ...]`: a key-value store replicated by
 * a (single-voter) Raft node whose log lives in a SQLite file, so it survives a restart.
 *
 * Each run replays the committed log into a `Map` (what the previous runs left), counts itself in
 * the `runs` key, applies the `key=value` arguments, and prints the store. Run it twice: the
 * second run starts from the first run's data. The database defaults to a file in the OS temp
 * directory; delete it to start over.
 */
import { Effect, Stream, SubscriptionRef } from "effect"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ClusterConfig, InMemoryLoom, RaftNode, RaftStorage, SeamRaftTransport, SqlRaftStorage } from "../src/node.js"

const args = process.argv.slice(2)
const dbAt = args.indexOf("--db")
const filename = dbAt >= 0 ? args[dbAt + 1]! : join(tmpdir(), "kuilt-durable-kv.sqlite")
const writes = args.filter((a, i) => a.includes("=") && args[i - 1] !== "--db")

/** The commands in the log: JSON `{ key, value }`. */
const encode = (key: string, value: string) => new TextEncoder().encode(JSON.stringify({ key, value }))
const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as { key: string; value: string }

const program = Effect.gen(function*() {
  // The storage comes from context (the layer below): swap the layer to store elsewhere.
  const storage = yield* RaftStorage
  const loom = yield* InMemoryLoom.make()
  const seam = yield* loom.host({ sessionName: "kv", peerKey: "kv-1" })
  const node = yield* RaftNode.make({
    cluster: ClusterConfig.ofVoters("kv-1"),
    transport: SeamRaftTransport.fromSeam(seam),
    storage
  })

  // The state machine: every committed command, from the start of the log, in order.
  const store = new Map<string, string>()
  const applied = yield* SubscriptionRef.make(0)
  yield* node.committedFrom(1).pipe(
    Stream.runForEach((c) => {
      if (c._tag === "Entry") {
        const { key, value } = decode(c.entry.command)
        store.set(key, value)
      }
      return SubscriptionRef.set(applied, c._tag === "Entry" ? c.entry.index : c._tag === "Internal" ? c.index : c.snapshot.throughIndex)
    }),
    Effect.forkScoped
  )
  const appliedThrough = (index: number) => applied.changes.pipe(Stream.takeUntil((i) => i >= index), Stream.runDrain)

  yield* node.awaitLeadership
  // A linearizable read: everything committed before now is applied once we reach this index.
  yield* appliedThrough(yield* node.readIndex)
  console.log(`restored ${store.size} keys from ${filename}: ${JSON.stringify(Object.fromEntries(store))}`)

  const runs = Number(store.get("runs") ?? "0") + 1
  let last = (yield* node.propose(encode("runs", String(runs)))).index
  for (const w of writes) {
    const [key, ...rest] = w.split("=")
    last = (yield* node.propose(encode(key!, rest.join("=")))).index
  }
  yield* appliedThrough(last)
  console.log(`run ${runs}: ${JSON.stringify(Object.fromEntries(store))}`)
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(SqlRaftStorage.layerSqlite({ filename })))).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
