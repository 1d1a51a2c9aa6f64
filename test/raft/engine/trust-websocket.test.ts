/**
 * The membership gate over real sockets: three voters joined through an in-process WebSocketHost
 * on a loopback port, and a raw WebSocket client that joins the same room and sends them forged
 * Raft frames of every kind (high terms, forged logs and snapshots, vote requests, forwards,
 * reads, vouches) and garbage. Nothing changes: the same logs, no term moves, and each voter
 * counts the refusals by reason.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Metric, MetricLabel, Ref, Schedule, Scope, Stream } from "effect"
import { encodeMessage } from "../../../layers/seam/websocket/Protocol.js"
import { encodeRaftMessage } from "../../../src/codec/raft/RaftCodec.js"
import type { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import { refusedFrames } from "../../../src/raft/engine/RaftMetrics.js"
import { ClusterConfig, ConfigPayload, InMemoryRaftStorage, RaftNode, SeamRaftTransport } from "../../../src/index.js"
import type { ClientId, RaftNodeShape } from "../../../src/index.js"
import { eventually, joinNode, startHost, WaitTimedOut } from "../../layers/seam/websocket/fixture.js"
import { rawJoin } from "../../layers/seam/websocket/rawClient.js"

const ids = ["v1", "v2", "v3"] as const
const bytes = (s: string) => new TextEncoder().encode(s)
const text = new TextDecoder()
// Long timeouts: a busy machine must not elect anew while the test checks that no term moved.
const config = { electionTimeoutMin: 1500, electionTimeoutMax: 3000, heartbeatInterval: 100 }

const refused = (node: string, reason: string) =>
  Effect.map(
    Metric.value(Metric.taggedWithLabels(refusedFrames, [MetricLabel.make("node", node), MetricLabel.make("reason", reason)])),
    (s) => s.count as number
  )

const forgeries = (term: number, last: number): Array<RaftMessage> => [
  {
    _tag: "AppendEntries",
    term: term + 3,
    prevLogIndex: last,
    prevLogTerm: term,
    entries: [{ _tag: "Command", index: last + 1, term: term + 3, command: bytes("forged"), dedupKey: { clientId: "mallory" as ClientId, requestId: 1 } }],
    leaderCommit: last + 1,
    round: 0
  },
  {
    _tag: "InstallSnapshot",
    term: term + 3,
    lastIncludedIndex: last + 10,
    lastIncludedTerm: term + 3,
    offset: 0,
    totalBytes: 6,
    data: bytes("forged"),
    done: true,
    config: ConfigPayload.make({ new: ClusterConfig.ofVoters("mallory") }),
    round: 0
  },
  { _tag: "RequestVote", term: term + 100, lastLogIndex: last + 1000, lastLogTerm: term + 100, leadershipTransfer: true },
  { _tag: "PreVote", term: term + 100, lastLogIndex: last + 1000, lastLogTerm: term + 100, round: 1 },
  { _tag: "TimeoutNow", term },
  { _tag: "Forward", clientRequestId: 1, command: bytes("forged-forward"), dedupKey: { clientId: "mallory" as ClientId, requestId: 2 } },
  { _tag: "ReadIndexRequest", requestId: 1 },
  { _tag: "VouchRequest", term }
]

describe("the membership gate over real sockets", () => {
  it.scopedLive("a raw WebSocket client in the room forges Raft frames to three voters: nothing changes, refusals are counted", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const cluster = ClusterConfig.ofVoters(...ids)
      const nodes: Array<{ id: string; node: RaftNodeShape; applied: Ref.Ref<ReadonlyArray<string>> }> = []
      for (const id of ids) {
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        const room = yield* joinNode(host.url, { room: "raft", peerId: id, displayName: id }).pipe(Scope.extend(scope), Effect.orDie)
        const storage = yield* InMemoryRaftStorage.make()
        const node = yield* RaftNode.make({ cluster, transport: SeamRaftTransport.fromSeam(room.seam), storage, config }).pipe(
          Scope.extend(scope),
          Effect.orDie
        )
        const applied = yield* Ref.make<ReadonlyArray<string>>([])
        yield* node.committedFrom(1).pipe(
          Stream.runForEach((c) => (c._tag === "Entry" ? Ref.update(applied, (xs) => [...xs, text.decode(c.entry.command)]) : Effect.void)),
          Effect.forkIn(scope)
        )
        nodes.push({ id, node, applied })
      }
      const leaderOf = Effect.gen(function*() {
        for (;;) {
          for (const n of nodes) if ((yield* n.node.role.get) === "Leader") return n
          yield* Effect.sleep(Duration.millis(20))
        }
      }).pipe(Effect.timeoutFail({ duration: Duration.seconds(15), onTimeout: () => new WaitTimedOut({ what: "no leader within 15 s" }) }), Effect.orDie)
      const leader = yield* leaderOf
      const propose = (s: string) =>
        leader.node.propose(bytes(s)).pipe(
          Effect.retry(Schedule.intersect(Schedule.recurs(20), Schedule.spaced(Duration.millis(50)))),
          Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => new WaitTimedOut({ what: `propose ${s}` }) }),
          Effect.orDie
        )
      for (const s of ["a", "b", "c"]) yield* propose(s)
      yield* eventually("every voter applied a, b, c", Effect.map(Effect.forEach(nodes, (n) => Ref.get(n.applied)), (all) => all.every((xs) => xs.length === 3)), 10_000)

      const { client: mallory, welcome } = yield* rawJoin(host.url, { room: "raft", peerId: "mallory" })
      expect(welcome.peerId).toBe("mallory")
      const terms = yield* Effect.forEach(nodes, (n) => n.node.term.get)
      const commit = yield* leader.node.commitIndex.get
      const before = yield* Effect.forEach(nodes, (n) => Effect.zip(refused(n.id, "NotAMember"), refused(n.id, "Undecodable")))
      const frames = forgeries(terms[0]!, commit).map(encodeRaftMessage)
      const rounds = 5
      for (let r = 0; r < rounds; r++) {
        for (const n of nodes) {
          for (const f of frames) mallory.send(encodeMessage({ _tag: "RelayTo", to: n.id, payload: f }))
          mallory.send(encodeMessage({ _tag: "RelayTo", to: n.id, payload: Uint8Array.of(0xee, 1, 2, 3, r) }))
        }
      }
      const expectedRefusals = rounds * frames.length
      yield* eventually(
        "every voter counted every forged frame",
        Effect.map(
          Effect.forEach(nodes, (n, i) =>
            Effect.map(Effect.zip(refused(n.id, "NotAMember"), refused(n.id, "Undecodable")), ([a, u]) =>
              a - before[i]![0] >= expectedRefusals && u - before[i]![1] >= rounds
            )),
          (ok) => ok.every(Boolean)
        ),
        10_000
      )
      const after = yield* Effect.forEach(nodes, (n, i) => Effect.zip(refused(n.id, "NotAMember"), refused(n.id, "Undecodable")).pipe(Effect.map(([a, u]) => [a - before[i]![0], u - before[i]![1]])))
      for (const counts of after) expect(counts).toEqual([expectedRefusals, rounds])
      expect(yield* Effect.forEach(nodes, (n) => n.node.term.get)).toEqual(terms)
      expect(yield* leaderOf).toBe(leader)
      // The logs agree and hold nothing forged; the cluster goes on.
      yield* propose("d")
      yield* eventually("every voter applied d", Effect.map(Effect.forEach(nodes, (n) => Ref.get(n.applied)), (all) => all.every((xs) => xs.length === 4)), 10_000)
      for (const n of nodes) expect(yield* Ref.get(n.applied)).toEqual(["a", "b", "c", "d"])
      expect(yield* Effect.forEach(nodes, (n) => n.node.term.get)).toEqual(terms)
    }), 60_000)
})
