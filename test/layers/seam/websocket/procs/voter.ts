/**
 * One Raft voter in its own process, written exactly as the README's pattern: join the room with a
 * fixed peer id and the shared secret's credentials, run a `RaftNode` over
 * `SeamRaftTransport.fromSeam(room.seam)` on a SQLite file — and nothing else: no reconnect code.
 *
 * Argument (JSON): `{ url, room, id, ids, secret, dir, propose }`. Prints:
 * - `joining <epoch ms>` when it is started and about to join (process start-up is behind it);
 * - `joined <epoch ms> <attempts>` once admitted (it retries only while the host is unreachable);
 * - `ack <command> <index>` for each of its own proposals that committed (when `propose`);
 * - `role <role>` on changes.
 * Commands on stdin: `dump` → `applied <json [[index, command], …]>`. Exits when stdin closes.
 */
import { NodeSocket } from "@effect/platform-node"
import { Clock, Duration, Effect, Ref, Runtime, Schedule, Stream } from "effect"
import { join } from "node:path"
import { createInterface } from "node:readline"
import * as SqlRaftStorage from "../../../../../layers/raft/storage/sql/SqlRaftStorage.js"
import { SeamRaftTransport } from "../../../../../layers/raft/transport/SeamRaftTransport.js"
import { WebSocketLoom } from "../../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { PeerToken } from "../../../../../layers/seam/websocket/PeerToken.js"
import { ClusterConfig } from "../../../../../services/raft/ClusterConfig.js"
import * as RaftNode from "../../../../../src/raft/RaftNode.js"

const config = JSON.parse(process.argv[2]!) as {
  readonly url: string
  readonly room: string
  readonly id: string
  readonly ids: ReadonlyArray<string>
  readonly secret: string
  readonly dir: string
  readonly propose: boolean
}
const print = (line: string) => process.stdout.write(line + "\n")
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const main = Effect.gen(function*() {
  const credentials = yield* PeerToken.credentials(config.secret)
  print(`joining ${yield* Clock.currentTimeMillis}`)
  let attempts = 0
  const room = yield* Effect.suspend(() => {
    attempts++
    return WebSocketLoom.join({
      url: config.url,
      room: config.room,
      peerId: config.id,
      displayName: config.id,
      credentials,
      connectTimeout: Duration.seconds(5)
    })
  }).pipe(
    // Only an unreachable host is retried: a refusal (e.g. PeerIdInUse) must show.
    Effect.retry({ while: (e) => e._tag === "HostUnreachable", schedule: Schedule.spaced(Duration.millis(50)), times: 200 })
  )
  print(`joined ${yield* Clock.currentTimeMillis} ${attempts}`)
  const storage = yield* SqlRaftStorage.makeSqlite({ filename: join(config.dir, `${config.id}.sqlite`) })
  const node = yield* RaftNode.make({
    cluster: ClusterConfig.ofVoters(...config.ids),
    transport: SeamRaftTransport.fromSeam(room.seam),
    storage
  })
  const applied = yield* Ref.make<ReadonlyArray<readonly [number, string]>>([])
  yield* Effect.forkScoped(Stream.runForEach(node.committedFrom(1), (c) =>
    c._tag === "Entry" ? Ref.update(applied, (xs) => [...xs, [c.entry.index, decoder.decode(c.entry.command)] as const]) : Effect.void))
  yield* Effect.forkScoped(Stream.runForEach(Stream.changes(node.role.changes), (r) => Effect.sync(() => print(`role ${r}`))))
  if (config.propose) {
    // Sequential proposals, paced; a failed or timed-out one is never acknowledged (its command is
    // not reused, so an unknown outcome cannot be mistaken for an acknowledged write).
    let n = 0
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const command = `${config.id}-${n++}`
      yield* node.propose(encoder.encode(command)).pipe(
        Effect.timeout(Duration.seconds(2)),
        Effect.matchEffect({
          onSuccess: (entry) => Effect.sync(() => print(`ack ${command} ${entry.index}`)),
          onFailure: () => Effect.void
        })
      )
      yield* Effect.sleep(Duration.millis(10))
    })))
  }
  const runtime = yield* Effect.runtime<never>()
  const input = createInterface({ input: process.stdin })
  input.on("line", (line) => {
    if (line.trim() === "dump") {
      void Runtime.runPromise(runtime)(Effect.map(Ref.get(applied), (xs) => print(`applied ${JSON.stringify(xs)}`)))
    }
  })
  input.on("close", () => process.exit(0))
  return yield* Effect.never
}).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))

Effect.runPromise(Effect.scoped(main)).catch((e) => {
  process.stderr.write(`voter failed: ${String(e)}\n`)
  process.exit(1)
})
