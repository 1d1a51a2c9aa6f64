/**
 * Raft nodes on SQLite files (TestClock, seeded Random, InMemoryLoom): a 3-node cluster commits,
 * a restarted leader recovers its log from its file; a damaged file stops a node at start; a
 * failing write stops a running node (fail-stop) with a typed `StorageError`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Exit, Fiber, Layer, Option, Random, Scope, Stream } from "effect"
import { SqlClient } from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { InMemoryLoom, type InMemoryLoomShape } from "../../../../../layers/seam/inmemory/InMemoryLoom.js"
import * as SqlRaftStorage from "../../../../../layers/raft/storage/sql/SqlRaftStorage.js"
import { SeamRaftTransport } from "../../../../../layers/raft/transport/SeamRaftTransport.js"
import { DeliveryPolicy } from "../../../../../services/seam/DeliveryPolicy.js"
import { ClusterConfig } from "../../../../../services/raft/ClusterConfig.js"
import type { RaftNodeShape } from "../../../../../services/raft/RaftNode.js"
import type { RaftStorageShape } from "../../../../../services/raft/RaftStorage.js"
import * as Raft from "../../../../../src/raft/RaftNode.js"
import { advanceUntil, bytes, FAST, text } from "../../../../raft/engine/fixture.js"
import { freshFile, tempDir } from "./sqliteHarness.js"

interface Member {
  readonly id: string
  readonly file: string
  node: RaftNodeShape
  scope: Scope.CloseableScope
}

/** Starts `id` on `file` in a Scope of its own (closing it is a crash: the file is closed too). */
const boot = (loom: InMemoryLoomShape, cluster: ClusterConfig, id: string, file: string, host: boolean, seed: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const seam = yield* (host
      ? loom.host({ sessionName: "raft", peerKey: id, maxPeers: 8 })
      : loom.join({ sessionName: "raft", peerKey: id })).pipe(Scope.extend(scope))
    const storage = yield* SqlRaftStorage.makeSqlite({ filename: file }).pipe(Scope.extend(scope))
    const node = yield* Raft.make({ cluster, transport: SeamRaftTransport.fromSeam(seam), storage, config: FAST }).pipe(
      Scope.extend(scope),
      Effect.withRandom(Random.make(seed)),
      Effect.tapError(() => Scope.close(scope, Exit.void))
    )
    return { node, scope }
  })

const leaderAmong = (members: ReadonlyArray<Member>) =>
  Effect.gen(function*() {
    for (const m of members) if ((yield* m.node.role.get) === "Leader") return m
    return undefined
  })

const commandsOf = (node: RaftNodeShape, count: number) =>
  node.committedFrom(1).pipe(
    Stream.filterMap((c) => (c._tag === "Entry" ? Option.some(text(c.entry.command)) : Option.none())),
    Stream.take(count),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray)
  )

describe("Raft nodes on SqlRaftStorage (SQLite files)", () => {
  it.scoped("a 3-node cluster commits, and a restarted leader recovers its log from its file and catches up", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const ids = ["n1", "n2", "n3"]
      const cluster = ClusterConfig.ofVoters(...ids)
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(4096), seed: 7 })
      const members: Array<Member> = []
      for (const [i, id] of ids.entries()) {
        const file = freshFile(dir, id)
        const { node, scope } = yield* boot(loom, cluster, id, file, i === 0, 100 + i)
        members.push({ id, file, node, scope })
      }
      yield* Effect.addFinalizer(() => Effect.forEach(members, (m) => Scope.close(m.scope, Exit.void)))
      yield* advanceUntil(Effect.map(leaderAmong(members), (l) => l !== undefined), 3000, "a leader")
      const first = (yield* leaderAmong(members))!
      for (let i = 1; i <= 5; i++) yield* first.node.propose(bytes(`before-${i}`))

      // The leader crashes (its file is closed), the others elect a new leader and go on.
      yield* Scope.close(first.scope, Exit.void)
      const rest = members.filter((m) => m !== first)
      yield* advanceUntil(Effect.map(leaderAmong(rest), (l) => l !== undefined), 3000, "a new leader")
      const second = (yield* leaderAmong(rest))!
      for (let i = 1; i <= 3; i++) yield* second.node.propose(bytes(`after-${i}`))

      // The old leader restarts on its file: it loads what it had, then catches up.
      const restarted = yield* boot(loom, cluster, first.id, first.file, false, 200)
      first.node = restarted.node
      first.scope = restarted.scope
      const target = yield* second.node.commitIndex.get
      yield* advanceUntil(Effect.map(first.node.commitIndex.get, (c) => c >= target), 3000, "the restarted node to catch up")
      const expected = [1, 2, 3, 4, 5].map((i) => `before-${i}`).concat([1, 2, 3].map((i) => `after-${i}`))
      for (const m of members) expect(yield* commandsOf(m.node, 8)).toEqual(expected)
    }))

  it.scoped("a node whose file holds a damaged entry refuses to start with CorruptDurableState", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      const loom = yield* InMemoryLoom.make({ seed: 3 })
      const cluster = ClusterConfig.ofVoters("solo")
      const { node, scope } = yield* boot(loom, cluster, "solo", file, true, 1)
      yield* advanceUntil(Effect.map(node.role.get, (r) => r === "Leader"), 3000, "the lone voter to lead")
      yield* node.propose(bytes("will be damaged"))
      yield* Scope.close(scope, Exit.void)
      yield* Effect.scoped(Effect.gen(function*() {
        const sql = Context.get(yield* Layer.build(SqliteClient.layer({ filename: file })), SqlClient)
        const rows = (yield* sql.unsafe("SELECT first_index, data FROM kuilt_raft_log ORDER BY first_index DESC LIMIT 1").values) as [[number, Uint8Array]]
        const data = Uint8Array.from(rows[0][1])
        data[data.length - 4]! ^= 0xff
        yield* sql.unsafe("UPDATE kuilt_raft_log SET data = ? WHERE first_index = ?", [data, rows[0][0]]).raw
      }))
      const exit = yield* Effect.exit(boot(loom, cluster, "solo", file, true, 2))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("CorruptDurableState")
    }))

  it.scoped("a node whose storage write fails stops with a typed StorageError and never reports the entry committed", () =>
    Effect.gen(function*() {
      const file = freshFile(yield* tempDir())
      const loom = yield* InMemoryLoom.make({ seed: 5 })
      const seam = yield* loom.host({ sessionName: "raft", peerKey: "solo" })
      // The storage over a SqlClient the test also holds, so it can take the log table away.
      const sql = Context.get(yield* Layer.build(SqliteClient.layer({ filename: file })), SqlClient)
      const storage: RaftStorageShape = yield* Effect.provideService(SqlRaftStorage.make(), SqlClient, sql)
      const node = yield* Raft.make({
        cluster: ClusterConfig.ofVoters("solo"),
        transport: SeamRaftTransport.fromSeam(seam),
        storage,
        config: FAST
      }).pipe(Effect.withRandom(Random.make(9)))
      yield* advanceUntil(Effect.map(node.role.get, (r) => r === "Leader"), 3000, "the lone voter to lead")
      const ok = yield* node.propose(bytes("durable"))
      const failure = yield* Effect.fork(node.awaitFailure)

      yield* sql.unsafe("ALTER TABLE kuilt_raft_log RENAME TO gone").raw
      const doomed = yield* Effect.fork(node.propose(bytes("never durable")))
      yield* advanceUntil(Effect.map(Fiber.poll(failure), Option.isSome), 1000, "the node to fail")
      const error = yield* Fiber.join(failure)
      expect(error._tag).toBe("StorageError")
      const result = yield* Fiber.await(doomed)
      expect(Exit.isFailure(result)).toBe(true)
      expect(yield* node.commitIndex.get).toBe(ok.index)
      // Once stopped, it stays stopped: later proposals fail at once.
      expect(Exit.isFailure(yield* Effect.exit(node.propose(bytes("later"))))).toBe(true)
    }))
})
