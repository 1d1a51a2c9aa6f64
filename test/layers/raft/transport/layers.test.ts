/**
 * The Layers a user composes a Raft node from: a `Seam` woven on the `Loom` in context
 * (`Loom.layerHost` / `Loom.layerJoin`), `SeamRaftTransport.layer` over it, and
 * `ManagedRaftTransport.layer`, whose seam the app swaps in later. On virtual time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, TestClock } from "effect"
import { InMemoryLoom } from "../../../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { ManagedRaftTransport } from "../../../../layers/raft/transport/ManagedRaftTransport.js"
import { SeamRaftTransport } from "../../../../layers/raft/transport/SeamRaftTransport.js"
import { DeliveryPolicy } from "../../../../services/seam/DeliveryPolicy.js"
import { Loom } from "../../../../services/seam/Loom.js"
import { Seam } from "../../../../services/seam/Seam.js"
import { isTorn } from "../../../../services/seam/SeamState.js"
import { ClusterConfig } from "../../../../services/raft/ClusterConfig.js"
import { NodeId } from "../../../../services/raft/NodeId.js"
import { RaftTransport } from "../../../../services/raft/RaftTransport.js"
import { RaftNode } from "../../../../src/raft/RaftNode.js"
import { advanceUntil, bytes, FAST } from "../../../raft/engine/fixture.js"

const cluster = ClusterConfig.ofVoters("a", "b")
const storage = Layer.suspend(() => InMemoryRaftStorage.layer())

describe("transport Layers", () => {
  it.scoped("Loom.layerHost / layerJoin weave seams on the Loom in context and close them with the Layer", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make()
      const inLoom = Layer.succeed(Loom, loom)
      const hostScope = yield* Scope.make()
      const host = Context.get(
        yield* Layer.buildWithScope(Loom.layerHost({ sessionName: "s", peerKey: "a" }).pipe(Layer.provide(inLoom)), hostScope),
        Seam
      )
      const joiner = Context.get(
        yield* Layer.build(Loom.layerJoin({ sessionName: "s", peerKey: "b" }).pipe(Layer.provide(inLoom))),
        Seam
      )
      expect([host.selfId, joiner.selfId]).toEqual(["a", "b"])
      expect(yield* loom.livePeers).toEqual(["a", "b"])
      yield* Scope.close(hostScope, Exit.void)
      expect(isTorn(yield* host.state.get)).toBe(true)
      expect(yield* loom.livePeers).toEqual(["b"])
    }))

  it.scoped("Loom.layerJoin fails with WeaveFailed when the loom hosts no such session", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(Loom.layerJoin({ sessionName: "nobody-hosts-this", peerKey: "b" })).pipe(
          Effect.provide(InMemoryLoom.layer())
        )
      )
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("WeaveFailed")
    }))

  it.scoped("a node on ManagedRaftTransport.layer joins the cluster once the app swaps a seam in", () =>
    Effect.gen(function*() {
      const loom = yield* InMemoryLoom.make({ policy: DeliveryPolicy.lossy(4096), seed: 5 })
      const inLoom = Layer.succeed(Loom, loom)
      // a: a seam from the loom, Raft over it.
      const a = Context.get(
        yield* Layer.build(
          RaftNode.layer({ cluster, config: FAST }).pipe(
            Layer.provide(SeamRaftTransport.layer),
            Layer.provide(Loom.layerHost({ sessionName: "s", peerKey: "a" })),
            Layer.provide(storage),
            Layer.provide(inLoom)
          )
        ),
        RaftNode
      )
      // b: a managed transport with no seam yet; the same transport is both services.
      const bContext = yield* Layer.build(
        RaftNode.layer({ cluster, config: FAST }).pipe(
          Layer.provideMerge(ManagedRaftTransport.layer(NodeId.make("b"))),
          Layer.provide(storage)
        )
      )
      const managed = Context.get(bContext, ManagedRaftTransport)
      expect(Context.get(bContext, RaftTransport)).toBe(managed)
      const b = Context.get(bContext, RaftNode)
      // Unbacked, b reaches nobody and nobody reaches b: neither can win an election of two.
      yield* TestClock.adjust("500 millis")
      expect(yield* managed.peers.get).toEqual(new Set(["b"]))
      expect(yield* Effect.all([a.role.get, b.role.get])).not.toContain("Leader")
      expect(yield* a.commitIndex.get).toBe(0)

      yield* managed.swapSeam(yield* loom.join({ sessionName: "s", peerKey: "b" }))
      yield* advanceUntil(
        Effect.map(Effect.all([a.role.get, b.role.get]), (roles) => roles.includes("Leader")),
        2000,
        "a leader once b is connected"
      )
      const leader = (yield* a.role.get) === "Leader" ? a : b
      const entry = yield* leader.propose(bytes("through the managed transport"))
      yield* advanceUntil(
        Effect.map(Effect.all([a.commitIndex.get, b.commitIndex.get]), (cs) => cs.every((c) => c >= entry.index)),
        500,
        "both nodes to commit"
      )
    }))
})
