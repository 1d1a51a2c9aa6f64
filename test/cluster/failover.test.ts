/**
 * Exactly once across a failover, with real processes: a client (durable identity) attached to
 * server A proposes while the leader runs on server B; its proposal reaches the leader and
 * commits, but the answer never reaches it (this test's socket drops what A sends it, as if A died
 * just before relaying the answer); then A is SIGKILLed. The client notices the tear, rotates to
 * the next endpoint, re-sends the same request id, and gets the original entry: the command is in
 * the log and is applied exactly once. The client's failover time (SIGKILL to answer) is printed.
 */
import { Socket } from "@effect/platform"
import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Stream } from "effect"
import { WebSocket } from "ws"
import { clusterClient } from "../../src/cluster/ClusterClient.js"
import { ClusterEndpoints } from "../../src/cluster/ClusterEndpoints.js"
import { ClientSessionTable } from "../../src/raft/ClientSessionTable.js"
import { ClientId, ClientIdentity } from "../../services/raft/ClientId.js"
import { waitForEffect } from "../support/waitFor.js"
import { applyExactlyOnce, enc } from "./fixture.js"
import { appliedOf, startThree, waitLine } from "./serverProcesses.js"

/** A Node WebSocket constructor whose sockets stop handing incoming messages on while `gate.drop`. */
const gated = (gate: { drop: boolean }) =>
  Layer.succeed(Socket.WebSocketConstructor, (url, protocols) => {
    const ws = new WebSocket(url, protocols)
    const add = ws.addEventListener.bind(ws) as (type: string, listener: (event: unknown) => void, options?: unknown) => void
    ;(ws as unknown as { addEventListener: typeof add }).addEventListener = (type, listener, options) =>
      add(type, type === "message" ? (event) => void (gate.drop ? undefined : listener(event)) : listener, options)
    return ws as unknown as globalThis.WebSocket
  })

describe("cluster client failover", () => {
  it.scopedLive("the entry server is SIGKILLed between a proposal and its answer: the client rotates and its retried request id is applied once", () =>
    Effect.gen(function*() {
      const { servers, leader } = yield* startThree()
      const leaderServer = servers.find((s) => s.id === leader)!
      const entry = servers.find((s) => s.id !== leader)!
      const rest = servers.filter((s) => s !== entry)
      const endpoints = yield* ClusterEndpoints.make([entry, ...rest].map((s) => ({ url: s.url, server: s.id })), { start: 0 })
      const gate = { drop: false }
      const client = yield* clusterClient({
        endpoints,
        id: "client-x",
        identity: ClientIdentity.Durable({ clientId: ClientId.make("client-x") })
      }).pipe(Effect.provide(gated(gate)))
      const applied = yield* applyExactlyOnce(client.committed)
      yield* client.propose(enc.encode("warmup"), { requestId: 1 })
      expect((yield* client.status.get).server).toBe(entry.id)

      yield* Effect.forkScoped(Stream.runForEach(client.status.changes, (st) => Effect.sync(() => console.log(`[dbg] ${performance.now().toFixed(0)} status ${JSON.stringify(st)}`))))
      gate.drop = true
      const from = leaderServer.lines.length
      const answer = yield* Effect.fork(client.propose(enc.encode("the-one"), { requestId: 2, timeout: Duration.seconds(60) }))
      yield* Effect.promise(() => waitLine(leaderServer, (t) => / the-one client-x 2$/.test(t), 30_000, "the leader committing the-one", from))
      console.log(`[dbg] ${performance.now().toFixed(0)} kill ${entry.id}; leader ${leader}`)
      entry.proc.kill("SIGKILL")
      const killedAt = performance.now()
      gate.drop = false
      const entryOut = yield* Fiber.join(answer)
      const failoverMs = performance.now() - killedAt
      console.log(`[figure] client failover, SIGKILL of its server to the answer of the retried proposal: ${failoverMs.toFixed(0)} ms`)

      expect(new TextDecoder().decode(entryOut.command)).toBe("the-one")
      expect(entryOut.dedupKey).toEqual({ clientId: "client-x", requestId: 2 })
      const status = yield* client.status.get
      expect(status.failovers).toBeGreaterThanOrEqual(1)
      expect(rest.map((s) => s.id)).toContain(status.server)

      // In the leader's log: the command once per copy; applied once whatever the copies.
      const rows = yield* Effect.promise(() => appliedOf(leaderServer))
      const copies = rows.filter((r) => r[1] === "the-one")
      expect(copies.length).toBeGreaterThanOrEqual(1)
      expect(copies.every((r) => r[2] === "client-x" && r[3] === 2)).toBe(true)
      const table = ClientSessionTable.empty()
      const onLeader = rows.filter((r) => table.shouldApply({ clientId: ClientId.make(r[2]), requestId: r[3] })).map((r) => r[1])
      expect(onLeader.filter((c) => c === "the-one")).toEqual(["the-one"])
      console.log(`[figure] copies of the retried command in the log: ${copies.length} (applied once)`)
      // The client's own view, applied through its session table, agrees.
      yield* client.propose(enc.encode("after"), { requestId: 3 })
      yield* waitForEffect(Effect.sync(() => [...applied.applied]), (a) => a.length >= 3, { what: "the client applied its three commands", timeoutMs: 10_000 })
      expect(applied.applied).toEqual(["warmup", "the-one", "after"])
    }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor)), 400_000)
})
