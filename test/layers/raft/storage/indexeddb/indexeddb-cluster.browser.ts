/**
 * A durable Raft cluster in one page: three RaftNodes over InMemoryLoom, each on its own
 * IndexedDB database, commit commands; then every node stops (its scope closes, as a page reload
 * would) and restarts on its database over a fresh network. The committed log must come back
 * whole and in order, and the restarted cluster must keep committing. Real time (a browser has
 * no TestClock for IndexedDB), so every wait is bounded and reports what it saw when it gives up.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import * as IndexedDbRaftStorage from "../../../../../layers/raft/storage/indexeddb/IndexedDbRaftStorage.js"
import { InMemoryLoom } from "../../../../../layers/seam/inmemory/InMemoryLoom.js"
import { SeamRaftTransport } from "../../../../../layers/raft/transport/SeamRaftTransport.js"
import { ClusterConfig } from "../../../../../services/raft/ClusterConfig.js"
import type { RaftNodeShape } from "../../../../../services/raft/RaftNode.js"
import * as Raft from "../../../../../src/raft/RaftNode.js"
import { waitForEffect } from "../../../../support/waitFor.js"
import { freshDatabaseName } from "./indexedDbHarness.js"

const IDS = ["a", "b", "c"] as const
const CONFIG = { electionTimeoutMin: 100, electionTimeoutMax: 200, heartbeatInterval: 20 }
const encode = (s: string) => new TextEncoder().encode(s)
const decode = (b: Uint8Array) => new TextDecoder().decode(b)

interface Running {
  readonly nodes: ReadonlyArray<RaftNodeShape>
  readonly scope: Scope.CloseableScope
}

/** Starts the three nodes on their databases over a fresh in-memory network. */
const boot = (databases: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const loom = yield* InMemoryLoom.make({ seed: 7 }).pipe(Scope.extend(scope))
    const nodes: Array<RaftNodeShape> = []
    for (const id of IDS) {
      const seam = yield* (id === "a"
        ? loom.host({ sessionName: "raft", peerKey: id, maxPeers: 8 })
        : loom.join({ sessionName: "raft", peerKey: id })).pipe(Scope.extend(scope))
      const storage = yield* IndexedDbRaftStorage.make({ databaseName: databases[id]! }).pipe(Scope.extend(scope))
      nodes.push(
        yield* Raft.make({
          cluster: ClusterConfig.ofVoters(...IDS),
          transport: SeamRaftTransport.fromSeam(seam),
          storage,
          config: CONFIG
        }).pipe(Scope.extend(scope))
      )
    }
    return { nodes, scope } satisfies Running
  })

/**
 * A leader among three voters with 100–200 ms election timeouts, each vote a durable IndexedDB
 * write: well under a second in a quiet browser; the bound allows for a machine whose cores are
 * busy (the elections may split a few times).
 */
const LEADER_MS = 15_000
/** Up to 21 commands, proposed one after the other, each a durable write on a majority. */
const COMMITS_MS = 20_000

/** Every node's state, for the failure messages of the waits below. */
const viewOf = (c: Running) =>
  Effect.forEach(c.nodes, (n) =>
    Effect.all({ id: Effect.succeed(n.id), role: n.role.get, term: n.term.get, commitIndex: n.commitIndex.get }))
const showViews = (views: ReadonlyArray<{ id: string; role: string; term: number; commitIndex: number }>) =>
  views.map((v) => `${v.id}: ${v.role} term ${v.term} commit ${v.commitIndex}`).join("; ")

/** The leader once one is known (bounded; a timeout shows every node's role and term). */
const awaitLeader = (c: Running) =>
  Effect.gen(function*() {
    const views = yield* waitForEffect(viewOf(c), (vs) => vs.some((v) => v.role === "Leader"), {
      what: "a leader among the three nodes",
      timeoutMs: LEADER_MS,
      show: showViews
    })
    return c.nodes[views.findIndex((v) => v.role === "Leader")]!
  })

/** The first `n` committed commands of `node`, as text (bounded; a timeout shows what arrived). */
const committedCommands = (node: RaftNodeShape, n: number) =>
  Effect.gen(function*() {
    const got: Array<string> = []
    const fiber = yield* Effect.fork(node.committedFrom(1).pipe(
      Stream.filterMap((c) => (c._tag === "Entry" ? Option.some(decode(c.entry.command)) : Option.none())),
      Stream.take(n),
      Stream.runForEach((text) => Effect.sync(() => got.push(text)))
    ))
    yield* waitForEffect(
      Effect.map(node.commitIndex.get, (commitIndex) => ({ commitIndex, received: got.length })),
      (o) => o.received >= n,
      {
        what: `${n} committed commands on ${node.id}`,
        timeoutMs: COMMITS_MS,
        show: (o) => `commit index ${o.commitIndex}, ${o.received} commands received, last ${JSON.stringify(got.at(-1))}`
      }
    )
    yield* Fiber.join(fiber)
    return got
  })

describe("IndexedDbRaftStorage under a Raft cluster", () => {
  it.scopedLive("three nodes commit on IndexedDB, restart on their databases with the log intact, and keep committing", () =>
    Effect.gen(function*() {
      const databases = Object.fromEntries(IDS.map((id) => [id, freshDatabaseName(`cluster-${id}`)]))
      yield* Effect.addFinalizer(() =>
        Effect.forEach(Object.values(databases), (databaseName) => Effect.ignore(IndexedDbRaftStorage.deleteDatabase({ databaseName })))
      )
      const first = yield* boot(databases)
      const leader = yield* awaitLeader(first)
      const before = Array.from({ length: 20 }, (_, k) => `cmd-${k}`)
      for (const text of before) yield* leader.propose(encode(text))
      // Every node has applied them all: each has them in its own durable log.
      for (const n of first.nodes) expect(yield* committedCommands(n, before.length)).toEqual(before)
      const termBefore = yield* leader.term.get
      yield* Scope.close(first.scope, Exit.void)

      const second = yield* boot(databases)
      yield* Effect.addFinalizer(() => Scope.close(second.scope, Exit.void))
      const leader2 = yield* awaitLeader(second)
      // Terms are durable: the new leader's term is above the one before the restart.
      expect(yield* leader2.term.get).toBeGreaterThan(termBefore)
      yield* leader2.propose(encode("after-restart"))
      for (const n of second.nodes) {
        expect(yield* committedCommands(n, before.length + 1)).toEqual([...before, "after-restart"])
      }
    // A backstop above the bounded waits inside (two elections, six commit waits).
    }), 2 * LEADER_MS + 7 * COMMITS_MS)
})
