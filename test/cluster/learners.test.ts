/**
 * Learner admission and GC over real client sockets: the learner bound is enforced (a client past
 * it is refused with `AdmissionRefused`, counted, and visible in health); a client that leaves is
 * removed from the membership after the grace period, never before, while a client that stays is
 * kept; the freed place admits the next client; many clients arriving together are admitted in
 * a few membership changes, not one each.
 */
import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Scope } from "effect"
import { clusterClient } from "../../src/cluster/ClusterClient.js"
import { ClusterEndpoints } from "../../src/cluster/ClusterEndpoints.js"
import { serverCluster } from "../../src/cluster/node/serverCluster.js"
import * as InMemoryRaftStorage from "../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import type { NodeId } from "../../services/raft/NodeId.js"
import { waitForEffect } from "../support/waitFor.js"
import { enc } from "./fixture.js"

const GRACE_MS = 1_000

describe("cluster learners", () => {
  it.scopedLive("the learner bound is enforced; a learner that leaves is removed after the grace, one that stays is kept; its place admits the next", () =>
    Effect.gen(function*() {
      const cluster = yield* serverCluster({
        voters: ["v1", "v2", "v3"],
        storage: () => InMemoryRaftStorage.make(),
        maxLearners: 2,
        learnerGrace: Duration.millis(GRACE_MS)
      })
      yield* cluster.start
      yield* cluster.awaitLeader.pipe(Effect.timeout(Duration.seconds(20)), Effect.orDie)
      const endpoints = yield* ClusterEndpoints.make([cluster.url])
      const aliceScope = yield* Scope.make()
      const alice = yield* clusterClient({ endpoints, id: "alice" }).pipe(Scope.extend(aliceScope))
      const bob = yield* clusterClient({ endpoints, id: "bob" })
      const refused = yield* Effect.flip(clusterClient({ endpoints, id: "carol" }))
      expect(refused).toMatchObject({ _tag: "AdmissionRefused", reason: "LearnerLimit", limit: 2 })
      expect((yield* cluster.health).maxLearners).toBe(2)
      yield* alice.propose(enc.encode("from alice"))

      const left = yield* Clock.currentTimeMillis
      yield* Scope.close(aliceScope, Exit.void)
      const learners = (c: { readonly learners: ReadonlySet<NodeId> }) => [...c.learners].sort()
      yield* waitForEffect(Effect.map(cluster.membership.get, learners), (l) => l.join() === "bob", {
        what: "alice removed from the membership", timeoutMs: 20_000
      })
      const removedAfter = (yield* Clock.currentTimeMillis) - left
      expect(removedAfter).toBeGreaterThanOrEqual(GRACE_MS)
      expect((yield* cluster.health).learnersRemoved).toBe(1)

      const carol = yield* clusterClient({ endpoints, id: "carol" })
      expect(learners(yield* cluster.membership.get)).toEqual(["bob", "carol"])
      yield* carol.propose(enc.encode("from carol"))
      yield* bob.propose(enc.encode("from bob"))
      const h = yield* cluster.health
      expect(h.learners).toBe(2)
      expect(h.clients.attached).toBe(2)
    }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor)), 60_000)

  it.scopedLive("thirty clients arriving together are admitted in batches", () =>
    Effect.gen(function*() {
      const cluster = yield* serverCluster({ voters: ["v1", "v2", "v3"], storage: () => InMemoryRaftStorage.make() })
      yield* cluster.start
      const leader = yield* cluster.awaitLeader.pipe(Effect.timeout(Duration.seconds(20)), Effect.orDie)
      const endpoints = yield* ClusterEndpoints.make([cluster.url])
      const before = yield* cluster.nodes.get(leader)!.commitIndex.get
      const clients = yield* Effect.all(
        Array.from({ length: 30 }, (_, i) => clusterClient({ endpoints, id: `c${i}` })),
        { concurrency: "unbounded" }
      )
      expect(clients).toHaveLength(30)
      expect((yield* cluster.membership.get).learners.size).toBe(30)
      // Each membership change costs one config entry (learners only: no joint phase).
      const configEntries = (yield* cluster.nodes.get(leader)!.commitIndex.get) - before
      expect(configEntries).toBeLessThan(30)
    }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor)), 60_000)
})
