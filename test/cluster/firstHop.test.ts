/**
 * The first hop: a client can speak only as itself. Over real client sockets to a cluster server,
 * a hostile client that names another client or a voter as the origin, sends to a non-voter,
 * sends a voter's kind of Raft message (a vote request at a huge term) or a server's frame is
 * refused at its entry server and counted (and published as a metric); it cannot join as a voter
 * or as a live client; a frame it relays straight to another client is dropped by that client.
 * The cluster is undisturbed throughout: same leader, same term, proposals commit.
 */
import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Metric, Option } from "effect"
import { clusterClient } from "../../src/cluster/ClusterClient.js"
import { ClusterEndpoints } from "../../src/cluster/ClusterEndpoints.js"
import { CLIENT_ROOM, ClientCodec } from "../../src/cluster/ClusterWire.js"
import { serverCluster } from "../../src/cluster/node/serverCluster.js"
import { framesRefused } from "../../src/cluster/ServerCore.js"
import { encodeRaftMessage } from "../../src/codec/raft/RaftCodec.js"
import * as InMemoryRaftStorage from "../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { WebSocketLoom } from "../../layers/seam/websocket/client/WebSocketLoom.js"
import { PeerToken } from "../../layers/seam/websocket/PeerToken.js"
import { RejectCode } from "../../layers/seam/websocket/RejectCode.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import { waitForEffect } from "../support/waitFor.js"
import { enc } from "./fixture.js"

const join = (url: string, peerId: string, credentials?: string) =>
  WebSocketLoom.join({
    url,
    room: CLIENT_ROOM,
    peerId,
    displayName: peerId,
    connectTimeout: Duration.seconds(5),
    ...(credentials === undefined ? {} : { credentials })
  })

const ack = encodeRaftMessage({
  _tag: "AppendEntriesResponse", term: 1, success: true, matchIndex: 1, rejectedIndex: 0, conflictIndex: 0, conflictTerm: 0, echoedRound: 0
})
const vote = encodeRaftMessage({ _tag: "RequestVote", term: 1_000_000, lastLogIndex: 1_000_000, lastLogTerm: 1_000_000, leadershipTransfer: true })

describe("cluster first hop", () => {
  it.scopedLive("a client cannot speak as a voter or another client: refused at the first hop, counted; the cluster is undisturbed", () =>
    Effect.gen(function*() {
      const cluster = yield* serverCluster({ voters: ["v1", "v2", "v3"], storage: () => InMemoryRaftStorage.make() })
      yield* cluster.start
      const leader = yield* cluster.awaitLeader.pipe(Effect.timeout(Duration.seconds(20)), Effect.orDie)
      const endpoints = yield* ClusterEndpoints.make([cluster.url])
      const alice = yield* clusterClient({ endpoints, id: "alice" })
      yield* alice.propose(enc.encode("before"))
      const term = yield* cluster.nodes.get(leader)!.term.get

      const mallory = yield* join(cluster.url, "mallory")
      yield* waitForEffect(cluster.health, (h) => h.clients.attached === 2, { what: "the server sees mallory", timeoutMs: 10_000 })
      const send = (origin: string, dest: string, payload: Uint8Array) =>
        mallory.seam.sendTo("v1" as PeerId, ClientCodec.encode({ _tag: "Raft", origin, dest, payload }))
      yield* send("alice", "v1", ack)
      yield* send("v2", "v1", ack)
      yield* send("mallory", "alice", ack)
      yield* send("mallory", leader, vote)
      yield* mallory.seam.sendTo("v1" as PeerId, ClientCodec.encode({ _tag: "Attached", server: "v1", voters: ["mallory"] }))
      yield* mallory.seam.sendTo("v1" as PeerId, Uint8Array.of(1, 2, 3))
      // Straight to alice through the relay, dressed as the leader's frame: alice drops it.
      yield* mallory.seam.sendTo("alice" as PeerId, ClientCodec.encode({ _tag: "Raft", origin: leader, dest: "alice", payload: vote }))
      const frames = yield* waitForEffect(
        Effect.map(cluster.health, (h) => h.frames),
        (f) => f.refusedOrigin === 2 && f.refusedDest === 1 && f.refusedKind === 1 && f.refusedMalformed === 2,
        { what: "the refusals counted", timeoutMs: 10_000 }
      )
      expect(frames.refusedMesh).toBe(0)
      yield* waitForEffect(Effect.sync(() => alice.counters.droppedForeign), (n) => n === 1, { what: "alice dropped mallory's frame", timeoutMs: 10_000 })
      yield* waitForEffect(
        Metric.value(framesRefused.pipe(Metric.tagged("server", "v1"), Metric.tagged("reason", "refusedOrigin"))),
        (s) => s.count === 2,
        { what: "the refusals published as a metric", timeoutMs: 10_000 }
      )

      const asVoter = yield* Effect.flip(join(cluster.url, "v2"))
      expect(asVoter).toMatchObject({ _tag: "JoinRefused", code: RejectCode.AuthRefused })
      const asAlice = yield* Effect.flip(join(cluster.url, "alice"))
      expect(asAlice).toMatchObject({ _tag: "JoinRefused", code: RejectCode.PeerIdInUse })

      const entry = yield* alice.propose(enc.encode("after"))
      expect(entry.term).toBe(term)
      expect(Option.getOrNull(yield* cluster.leader.get)).toBe(leader)
      expect(yield* cluster.nodes.get(leader)!.term.get).toBe(term)
    }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor)), 60_000)

  it.scopedLive("with a client secret, a client needs a token for its own id", () =>
    Effect.gen(function*() {
      const clientSecret = "client secret of at least 16 bytes"
      const cluster = yield* serverCluster({ voters: ["v1"], clientSecret, storage: () => InMemoryRaftStorage.make() })
      yield* cluster.start
      const key = yield* PeerToken.secret(clientSecret)
      const token = (peerId: string) => PeerToken.mint(key, { room: CLIENT_ROOM, peerId, ttl: "1 hour" })
      expect(yield* Effect.flip(join(cluster.url, "alice"))).toMatchObject({ code: RejectCode.AuthRefused })
      expect(yield* Effect.flip(join(cluster.url, "alice", yield* token("bob")))).toMatchObject({ code: RejectCode.AuthRefused })
      const other = yield* PeerToken.mint(yield* PeerToken.secret("another secret, sixteen bytes+"), { room: CLIENT_ROOM, peerId: "alice", ttl: "1 hour" })
      expect(yield* Effect.flip(join(cluster.url, "alice", other))).toMatchObject({ code: RejectCode.AuthRefused })
      const endpoints = yield* ClusterEndpoints.make([cluster.url])
      const alice = yield* clusterClient({ endpoints, id: "alice", credentials: yield* PeerToken.credentials(clientSecret) })
      expect((yield* alice.propose(enc.encode("x"))).index).toBeGreaterThan(1)
    }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor)), 60_000)
})
