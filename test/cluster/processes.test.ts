/**
 * The voter core as three OS processes, each one `serverCluster` running one voter on SQLite,
 * linked directly over WebSocket (no relay host between them), with a client in this process.
 *
 * A leader is elected and client proposals commit; the leader's process is SIGKILLed: the other
 * two elect a new leader and commits resume (the client fails over if it was attached there); the
 * killed process restarts on its data, rejoins, and catches up: every acknowledged command is in
 * every server's log at its acknowledged index, and the logs agree.
 */
import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { clusterClient } from "../../src/cluster/ClusterClient.js"
import { ClusterEndpoints } from "../../src/cluster/ClusterEndpoints.js"
import { waitFor } from "../support/waitFor.js"
import { enc } from "./fixture.js"
import { agreedLeader, appliedOf, ask, launch, START_MS, startThree, tailOf, waitLine } from "./serverProcesses.js"

/** One proposal through a failover: the client notices the tear, joins another server, re-sends. */
const PROPOSE_MS = 30_000

describe("server cluster as three processes", () => {
  it.scopedLive("elects, commits, survives SIGKILL of the leader's process; the killed process restarts on its data and rejoins", () =>
    Effect.gen(function*() {
      const { servers, leader: first } = yield* startThree()
      const endpoints = yield* ClusterEndpoints.make(servers.map((s) => ({ url: s.url, server: s.id })), { start: 0 })
      const client = yield* clusterClient({ endpoints, id: "writer" })
      const acks: Array<{ readonly command: string; readonly index: number }> = []
      const propose = (command: string) =>
        Effect.map(client.propose(enc.encode(command), { timeout: Duration.millis(PROPOSE_MS) }), (e) => void acks.push({ command, index: e.index }))
      for (let i = 1; i <= 5; i++) yield* propose(`before-${i}`)

      const killed = servers.find((s) => s.id === first)!
      killed.proc.kill("SIGKILL")
      yield* Effect.promise(() => killed.exited)
      const survivors = servers.filter((s) => s !== killed)
      for (let i = 1; i <= 5; i++) yield* propose(`after-${i}`)
      const second = yield* Effect.promise(() => agreedLeader(survivors))
      expect(second).not.toBe(first)

      launch(killed, servers)
      yield* Effect.promise(() => waitLine(killed, (t) => t.startsWith("listening "), START_MS, "listening after the restart"))
      // Its SQLite file brought its log back: the commands it had applied before the kill.
      const top = Math.max(...acks.map((a) => a.index))
      for (const s of servers) {
        yield* Effect.promise(() =>
          waitFor(() => appliedOf(s), (rows) => rows.length > 0 && rows[rows.length - 1]![0] >= top, {
            what: `${s.id} applied through index ${top}`,
            timeoutMs: START_MS,
            show: (rows) => `last ${JSON.stringify(rows.at(-1))}\n${tailOf(s)}`
          })
        )
      }
      const logs = yield* Effect.promise(() => Promise.all(servers.map(async (s) => new Map((await appliedOf(s)).map((r) => [r[0], r[1]])))))
      for (const a of acks) for (const [i, log] of logs.entries()) expect(log.get(a.index), `${servers[i]!.id} at ${a.index}`).toBe(a.command)
      for (let index = 1; index <= top; index++) expect(new Set(logs.map((l) => l.get(index))).size, `agreement at ${index}`).toBe(1)
      const health = JSON.parse(yield* Effect.promise(() => ask(killed, "health", "health"))) as { leader: string | null; voters: Array<{ role: string }> }
      expect(health.leader).toBe(second)
      expect(health.voters[0]!.role).toBe("Follower")
      yield* propose("after-restart")
      expect(acks).toHaveLength(11)
    }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor)), 300_000)
})
