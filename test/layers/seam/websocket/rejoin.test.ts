/**
 * Host restart survival, in one process over loopback: when the host comes back on the same port
 * (with no memory of its rooms), clients rejoin with their identity under the same seam, and a
 * Raft cluster over those seams commits again with no code of its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Metric, Ref, Schedule, Scope, Stream } from "effect"
import { HostIdentity } from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import * as Reconnect from "../../../../layers/seam/websocket/client/Reconnect.js"
import { PeerToken } from "../../../../layers/seam/websocket/PeerToken.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import { ClusterConfig, InMemoryRaftStorage, RaftNode, SeamRaftTransport } from "../../../../src/index.js"
import type { RaftNodeShape } from "../../../../src/index.js"
import { eventually, joinNode, startHost, WaitTimedOut } from "./fixture.js"

const SECRET = "kuilt test secret, 32 bytes long"
const identity = HostIdentity.sharedSecret({ secret: SECRET })

/** A host in a scope of its own (closing it is a host shutdown), on `port` (0: any). */
const hostOn = (port: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const host = yield* startHost({ identity, port, reconnectWindow: Duration.seconds(10) }).pipe(Scope.extend(scope))
    return { host, stop: Scope.close(scope, Exit.void) }
  })

describe("WebSocket clients across a host restart", () => {
  it.scopedLive("a client rejoins the restarted host with the same id, under the same seam, and says so", () =>
    Effect.gen(function*() {
      const first = yield* hostOn(0)
      const port = first.host.port
      const credentials = yield* PeerToken.credentials(SECRET)
      const a = yield* joinNode(first.host.url, { room: "r", peerId: "a", credentials })
      const seam = a.seam
      const statuses = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.fork(Stream.runForEach(a.status.changes, (s) => Ref.update(statuses, (xs) => [...xs, s._tag])))
      yield* first.stop
      yield* eventually("the seam reports Weaving", Effect.map(seam.state.get, (s) => s._tag === "Weaving"))
      const second = yield* hostOn(port)
      yield* eventually("the seam is Woven again", Effect.map(seam.state.get, (s) => s._tag === "Woven"), 5_000)
      expect(a.seam).toBe(seam)
      expect(seam.selfId).toBe("a")
      expect(a.counters.rejoins).toBe(1)
      expect((yield* a.status.get)._tag).toBe("Connected")
      expect(yield* Ref.get(statuses)).toContain("Rejoining")
      expect(a.serverPeerId).toBe(second.host.serverPeerId)
      const rejoins = yield* Metric.value(Reconnect.rejoins.pipe(Metric.tagged("room", "r"), Metric.tagged("peer", "a")))
      expect(rejoins.count).toBeGreaterThanOrEqual(1)
      // The rejoined seam works: a newcomer on the new host exchanges frames with it.
      const b = yield* joinNode(second.host.url, { room: "r", peerId: "b", credentials })
      yield* eventually("a sees b", Effect.map(seam.peers.get, (p) => p.has("b" as PeerId)))
      const got = yield* Effect.fork(Stream.runHead(seam.incoming))
      yield* b.seam.sendTo("a" as PeerId, Uint8Array.of(7))
      const frame = yield* got.pipe(Effect.timeout(Duration.seconds(3)), Effect.orDie)
      expect(frame._tag === "Some" ? [frame.value.sender, frame.value.payload[0]] : undefined).toEqual(["b", 7])
      yield* second.stop
    }))

  it.scopedLive("a Raft cluster over room seams commits again after its host restarts, keeping every entry", () =>
    Effect.gen(function*() {
      const first = yield* hostOn(0)
      const port = first.host.port
      const credentials = yield* PeerToken.credentials(SECRET)
      const ids = ["n1", "n2", "n3"]
      const nodes: Array<RaftNodeShape> = []
      for (const peerId of ids) {
        const room = yield* joinNode(first.host.url, { room: "raft", peerId, credentials })
        const storage = yield* InMemoryRaftStorage.make()
        nodes.push(yield* RaftNode.make({ cluster: ClusterConfig.ofVoters(...ids), transport: SeamRaftTransport.fromSeam(room.seam), storage }))
      }
      const propose = (command: string) =>
        Effect.raceAll(nodes.map((n) => n.awaitLeadership.pipe(Effect.as(n)))).pipe(
          Effect.flatMap((leader) => leader.propose(new TextEncoder().encode(command))),
          Effect.retry(Schedule.spaced(Duration.millis(20))),
          Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => new WaitTimedOut({ what: `propose ${command}` }) }),
          Effect.orDie
        )
      const before = yield* propose("before")
      yield* first.stop
      const second = yield* hostOn(port)
      const after = yield* propose("after")
      expect(after.index).toBeGreaterThan(before.index)
      for (const n of nodes) {
        yield* eventually(`${n.id} applied "after"`, Effect.map(n.commitIndex.get, (c) => c >= after.index), 5_000)
      }
      yield* second.stop
    }), 30_000)
})
