/**
 * Raft over the WebSocket host: three RaftNodes, each with its own Node client seam, on the real
 * clock, commit entries through a host on a loopback port; the cluster survives a leader crash.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Option, Ref, Schedule, Scope, Stream } from "effect"
import { ClusterConfig, InMemoryRaftStorage, RaftNode, type RaftNodeShape, SeamRaftTransport } from "../../../../src/index.js"
import { eventually, joinNode, startHost, WaitTimedOut } from "./fixture.js"

const ids = ["n1", "n2", "n3"] as const
const text = new TextDecoder()
const bytes = (s: string) => new TextEncoder().encode(s)

const startCluster = (url: string) =>
  Effect.gen(function*() {
    const cluster = ClusterConfig.ofVoters(...ids)
    const nodes: Array<{ id: string; node: RaftNodeShape; scope: Scope.CloseableScope; applied: Ref.Ref<ReadonlyArray<string>> }> = []
    for (const id of ids) {
      // Each node has its own scope (closing it is a crash) and a fixed peer id (= its Raft id).
      const scope = yield* Scope.make()
      const room = yield* joinNode(url, { room: "raft", peerId: id, displayName: id }).pipe(Scope.extend(scope), Effect.orDie)
      const storage = yield* InMemoryRaftStorage.make()
      const node = yield* RaftNode.make({ cluster, transport: SeamRaftTransport.fromSeam(room.seam), storage }).pipe(
        Scope.extend(scope),
        Effect.orDie
      )
      const applied = yield* Ref.make<ReadonlyArray<string>>([])
      yield* node.committedFrom(1).pipe(
        Stream.runForEach((c) => (c._tag === "Entry" ? Ref.update(applied, (xs) => [...xs, text.decode(c.entry.command)]) : Effect.void)),
        Effect.forkIn(scope)
      )
      nodes.push({ id, node, scope, applied })
    }
    yield* Effect.addFinalizer(() => Effect.forEach(nodes, (n) => Scope.close(n.scope, Exit.void), { discard: true }))
    return nodes
  })

type Nodes = Effect.Effect.Success<ReturnType<typeof startCluster>>

const leaderOf = (nodes: Nodes) =>
  Effect.gen(function*() {
    for (;;) {
      for (const n of nodes) if ((yield* n.node.role.get) === "Leader") return n
      yield* Effect.sleep(Duration.millis(10))
    }
  }).pipe(Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new WaitTimedOut({ what: "no leader within 5 s" }) }), Effect.orDie)

const everyNodeApplied = (nodes: Nodes, expected: ReadonlyArray<string>) =>
  eventually(
    `every node applied ${expected.length} entries`,
    Effect.map(Effect.forEach(nodes, (n) => Ref.get(n.applied)), (all) => all.every((xs) => xs.length >= expected.length))
  )

describe("Raft over the WebSocket host", () => {
  it.scopedLive("three nodes elect a leader and commit 50 entries proposed from every node", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const nodes = yield* startCluster(host.url)
      yield* leaderOf(nodes)
      const expected: Array<string> = []
      for (let k = 0; k < 50; k++) {
        const n = nodes[k % 3]!
        const command = `cmd-${k}`
        // A follower forwards the proposal to the leader (§8); a transient NotLeader is retried.
        yield* n.node.propose(bytes(command)).pipe(
          Effect.retry(Schedule.intersect(Schedule.recurs(20), Schedule.spaced(Duration.millis(20)))),
          Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new WaitTimedOut({ what: `propose ${command} timed out` }) }),
          Effect.orDie
        )
        expected.push(command)
      }
      yield* everyNodeApplied(nodes, expected)
      for (const n of nodes) expect(yield* Ref.get(n.applied)).toEqual(expected)
      expect(host.counters.relayed).toBeGreaterThan(100)
    }), 20_000)

  it.scopedLive("after the leader crashes, the other two elect a new leader and keep committing", () =>
    Effect.gen(function*() {
      const host = yield* startHost()
      const nodes = yield* startCluster(host.url)
      const first = yield* leaderOf(nodes)
      yield* first.node.propose(bytes("before")).pipe(Effect.orDie)
      yield* Scope.close(first.scope, Exit.void)
      const rest = nodes.filter((n) => n !== first)
      const second = yield* leaderOf(rest)
      expect(second.id).not.toBe(first.id)
      yield* second.node.propose(bytes("after")).pipe(
        Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new WaitTimedOut({ what: "propose timed out" }) }),
        Effect.orDie
      )
      yield* everyNodeApplied(rest, ["before", "after"])
      for (const n of rest) expect(yield* Ref.get(n.applied)).toEqual(["before", "after"])
      expect(Option.isSome(yield* second.node.leader.get)).toBe(true)
    }), 20_000)
})
