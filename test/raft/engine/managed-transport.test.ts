import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope, TestClock } from "effect"
import { InMemoryLoom } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { ManagedRaftTransport } from "../../../layers/raft/transport/ManagedRaftTransport.js"
import { SeamRaftTransport } from "../../../layers/raft/transport/SeamRaftTransport.js"
import { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import * as Raft from "../../../src/raft/RaftNode.js"
import { advanceUntil, bytes, FAST } from "./fixture.js"

describe("ManagedRaftTransport", () => {
  it.scoped("a node keeps its identity and log while its seam is swapped after a tear", () =>
    Effect.gen(function*() {
      const cluster = ClusterConfig.ofVoters("a", "b", "c")
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(4096), seed: 3 })
      // a and b on plain transports; c on a managed one that starts with no seam at all.
      const seamA = yield* loom.host({ sessionName: "s", peerKey: "a" })
      const seamB = yield* loom.join({ sessionName: "s", peerKey: "b" })
      const a = yield* Raft.make({ cluster, transport: SeamRaftTransport.fromSeam(seamA), storage: yield* InMemoryRaftStorage.make(), config: FAST })
      const b = yield* Raft.make({ cluster, transport: SeamRaftTransport.fromSeam(seamB), storage: yield* InMemoryRaftStorage.make(), config: FAST })
      const managed = yield* ManagedRaftTransport.make("c" as NodeId)
      const c = yield* Raft.make({ cluster, transport: managed, storage: yield* InMemoryRaftStorage.make(), config: FAST })

      // Unbacked: c's sends are dropped, a and b still elect and commit between them.
      yield* advanceUntil(Effect.map(Effect.all([a.role.get, b.role.get]), (rs) => rs.includes("Leader")), 2000, "a leader")
      const leader = (yield* a.role.get) === "Leader" ? a : b
      const e1 = yield* leader.propose(bytes("before c connects"))
      // c's election timer fires meanwhile; its pre-votes go nowhere.
      yield* TestClock.adjust("200 millis")
      expect(managed.seamStats.droppedUnbacked).toBeGreaterThan(0)
      expect(yield* c.commitIndex.get).toBe(0)

      // First swap: c catches up.
      const scope1 = yield* Scope.make()
      yield* managed.swapSeam(yield* loom.join({ sessionName: "s", peerKey: "c" }).pipe(Scope.extend(scope1)))
      yield* advanceUntil(Effect.map(c.commitIndex.get, (i) => i >= e1.index), 1000, "c to catch up")

      // The connection tears; c keeps running (same node object, same log) and rejoins on a new seam.
      yield* Scope.close(scope1, Exit.void)
      const e2 = yield* leader.propose(bytes("while c is away"))
      yield* TestClock.adjust("50 millis")
      expect(yield* c.commitIndex.get).toBeLessThan(e2.index)
      yield* managed.swapSeam(yield* loom.join({ sessionName: "s", peerKey: "c" }))
      yield* advanceUntil(Effect.map(c.commitIndex.get, (i) => i >= e2.index), 1000, "c to catch up again")
      expect(managed.seamStats.swaps).toBe(2)
      // c can propose through the new seam too.
      const e3 = yield* c.propose(bytes("from c"))
      expect(e3.index).toBeGreaterThan(e2.index)
      expect(Option.isSome(yield* c.leader.get)).toBe(true)
    }))
})
