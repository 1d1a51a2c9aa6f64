/**
 * The process the crash test kills: three in-process Raft voters (InMemoryLoom, real clock), each
 * on its own SQLite file in `dir` (`SqlRaftStorage.makeSqlite`).
 *
 * Usage: `node --import tsx crash-child.ts <mode> <dir> <tag>`
 * - `run`: 64 proposers propose `<tag>-<n>` as fast as they can; each committed proposal is
 *   printed as `ack <index> <payload>` once `propose` succeeds. Runs until killed; a line still
 *   queued in the process when it dies is lost, which only makes the test check fewer entries.
 * - `verify`: waits for a leader, commits `<tag>` as a marker, prints every committed command
 *   from index 1 as `entry <index> <payload>` up to the marker, then `done`, and exits 0.
 *
 * A node that cannot start (e.g. `CorruptDurableState` at load) makes the process print
 * `start-failed <error>` on stderr and exit 1.
 */
import { Effect, Exit, Option, Scope, Stream } from "effect"
import { join } from "node:path"
import { InMemoryLoom } from "../../../../../layers/seam/inmemory/InMemoryLoom.js"
import * as SqlRaftStorage from "../../../../../layers/raft/storage/sql/SqlRaftStorage.js"
import { SeamRaftTransport } from "../../../../../layers/raft/transport/SeamRaftTransport.js"
import { ClusterConfig } from "../../../../../services/raft/ClusterConfig.js"
import type { RaftNodeShape } from "../../../../../services/raft/RaftNode.js"
import * as Raft from "../../../../../src/raft/RaftNode.js"

const [mode, dir, tag] = process.argv.slice(2) as [string, string, string]
const ids = ["n1", "n2", "n3"] as const
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const print = (line: string) => process.stdout.write(line + "\n")

const startCluster = Effect.gen(function*() {
  const loom = yield* InMemoryLoom.make()
  const cluster = ClusterConfig.ofVoters(...ids)
  const nodes: Array<RaftNodeShape> = []
  for (const [i, id] of ids.entries()) {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const seam = yield* (i === 0
      ? loom.host({ sessionName: "crash", peerKey: id })
      : loom.join({ sessionName: "crash", peerKey: id })).pipe(Scope.extend(scope))
    const storage = yield* SqlRaftStorage.makeSqlite({ filename: join(dir, `${id}.sqlite`) }).pipe(Scope.extend(scope))
    nodes.push(yield* Raft.make({ cluster, transport: SeamRaftTransport.fromSeam(seam), storage }).pipe(Scope.extend(scope)))
  }
  return nodes
})

const leaderOf = (nodes: ReadonlyArray<RaftNodeShape>) => Effect.raceAll(nodes.map((n) => n.awaitLeadership.pipe(Effect.as(n))))

const run = (nodes: ReadonlyArray<RaftNodeShape>) =>
  Effect.gen(function*() {
    const ref = { leader: yield* leaderOf(nodes) }
    let next = 0
    const proposer = Effect.forever(Effect.suspend(() => {
      const payload = `${tag}-${next++}`
      return ref.leader.propose(encoder.encode(payload)).pipe(
        Effect.tap((entry) => Effect.sync(() => print(`ack ${entry.index} ${payload}`))),
        Effect.catchAll(() => Effect.map(leaderOf(nodes), (l) => void (ref.leader = l)))
      )
    }))
    yield* Effect.forEach(Array.from({ length: 64 }), () => proposer, { concurrency: "unbounded", discard: true })
  })

const verify = (nodes: ReadonlyArray<RaftNodeShape>) =>
  Effect.gen(function*() {
    const leader = yield* leaderOf(nodes)
    const marker = yield* leader.propose(encoder.encode(tag))
    yield* leader.committedFrom(1).pipe(
      Stream.filterMap((c) => (c._tag === "Entry" ? Option.some(c.entry) : Option.none())),
      Stream.takeUntil((e) => e.index >= marker.index),
      Stream.runForEach((e) => Effect.sync(() => print(`entry ${e.index} ${decoder.decode(e.command)}`)))
    )
    print("done")
  })

const main = Effect.scoped(Effect.gen(function*() {
  const nodes = yield* startCluster.pipe(
    Effect.tapError((e) => Effect.sync(() => process.stderr.write(`start-failed ${e._tag}: ${e.message}\n`)))
  )
  print("ready")
  if (mode === "verify") yield* verify(nodes)
  else yield* run(nodes)
}))

Effect.runPromise(main).then(
  // Exit once stdout is flushed: a pipe that is full queues writes, and `exit` would drop them.
  () => process.stdout.write("", () => process.exit(0)),
  (e) => {
    process.stderr.write(`child failed: ${String(e)}\n`)
    process.exit(1)
  }
)
