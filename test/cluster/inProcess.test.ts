/**
 * A server cluster with every voter in one process (m = 1, 3, 5, in-memory voter links, real
 * client sockets): a leader is elected, clients are admitted as learners and their proposals
 * commit; every client observes the same committed sequence.
 */
import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { clusterClient } from "../../src/cluster/ClusterClient.js"
import { ClusterEndpoints } from "../../src/cluster/ClusterEndpoints.js"
import { serverCluster } from "../../src/cluster/node/serverCluster.js"
import * as InMemoryRaftStorage from "../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { waitForEffect } from "../support/waitFor.js"
import { enc, firstCommands } from "./fixture.js"

describe("server cluster in one process", () => {
  for (const m of [1, 3, 5]) {
    it.scopedLive(`m = ${m}: elects, admits two clients, commits their proposals in one order`, () =>
      Effect.gen(function*() {
        const voters = Array.from({ length: m }, (_, i) => `v${i + 1}`)
        const cluster = yield* serverCluster({ voters, storage: () => InMemoryRaftStorage.make() })
        yield* cluster.start
        const leader = yield* cluster.awaitLeader.pipe(Effect.timeout(Duration.seconds(20)), Effect.orDie)
        expect(voters).toContain(leader)
        const endpoints = yield* ClusterEndpoints.make([cluster.url])
        const alice = yield* clusterClient({ endpoints, id: "alice" })
        const bob = yield* clusterClient({ endpoints, id: "bob" })
        const a1 = yield* alice.propose(enc.encode("a1"))
        const b1 = yield* bob.propose(enc.encode("b1"))
        const a2 = yield* alice.propose(enc.encode("a2"))
        expect(a1.index).toBeLessThan(b1.index)
        expect(b1.index).toBeLessThan(a2.index)
        expect(yield* firstCommands(alice.committed, 3)).toEqual(["a1", "b1", "a2"])
        expect(yield* firstCommands(bob.committed, 3)).toEqual(["a1", "b1", "a2"])
        expect(yield* firstCommands(cluster.committedFrom(1), 3)).toEqual(["a1", "b1", "a2"])
        const membership = yield* cluster.membership.get
        expect([...membership.learners].sort()).toEqual(["alice", "bob"])
        const health = yield* cluster.health
        expect(health.learners).toBe(2)
        expect(health.clients.attached).toBe(2)
        yield* waitForEffect(cluster.health, (h) => h.ok, { what: "health ok", timeoutMs: 5_000 })
      }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor)), 60_000)
  }
})
