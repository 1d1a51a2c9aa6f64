/**
 * One hundred learner clients, spread over three server processes (SQLite, one voter each),
 * propose concurrently. Every client observes the same committed sequence (applied through a
 * `ClientSessionTable`, as a state machine would); every acknowledged proposal is in it exactly
 * once, at its acknowledged place; the servers' logs say the same.
 */
import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { clusterClient } from "../../src/cluster/ClusterClient.js"
import { ClusterEndpoints } from "../../src/cluster/ClusterEndpoints.js"
import { ClientSessionTable } from "../../src/raft/ClientSessionTable.js"
import { ClientId } from "../../services/raft/ClientId.js"
import { waitFor, waitForEffect } from "../support/waitFor.js"
import { applyExactlyOnce, enc } from "./fixture.js"
import { appliedOf, startThree } from "./serverProcesses.js"

const CLIENTS = 100
const EACH = 3

describe("many cluster clients", () => {
  it.scopedLive(`${CLIENTS} clients across three servers propose concurrently: one committed sequence, every acknowledged proposal applied exactly once`, () =>
    Effect.gen(function*() {
      const { servers } = yield* startThree({ quiet: true })
      const list = servers.map((s) => ({ url: s.url, server: s.id }))
      const clients = yield* Effect.all(
        Array.from({ length: CLIENTS }, (_, i) =>
          Effect.flatMap(ClusterEndpoints.make(list, { start: i % servers.length }), (endpoints) =>
            // A hundred joins at once on a loaded machine: admission is batched, but give it time.
            clusterClient({ endpoints, id: `c${i}`, admissionTimeout: Duration.seconds(120) }))),
        { concurrency: "unbounded" }
      )
      const attachedTo = yield* Effect.all(clients.map((c) => Effect.map(c.status.get, (s) => s.server)))
      for (const s of servers) expect(attachedTo.filter((x) => x === s.id).length, `clients on ${s.id}`).toBeGreaterThan(0)
      const views = yield* Effect.all(clients.map((c) => applyExactlyOnce(c.committed)))

      const acks = (yield* Effect.all(
        clients.map((c, i) =>
          Effect.forEach(Array.from({ length: EACH }, (_, k) => `c${i}-${k}`), (command) =>
            Effect.map(c.propose(enc.encode(command), { timeout: Duration.seconds(120) }), (e) => ({ command, index: e.index })))
        ),
        { concurrency: "unbounded" }
      )).flat()
      expect(acks).toHaveLength(CLIENTS * EACH)

      yield* waitForEffect(Effect.sync(() => views.map((v) => v.applied.length)), (n) => n.every((k) => k >= CLIENTS * EACH), {
        what: `every client applied ${CLIENTS * EACH} commands`,
        timeoutMs: 120_000,
        show: (n) => `min ${Math.min(...n)}, max ${Math.max(...n)}`
      })
      const byIndex = [...acks].sort((a, b) => a.index - b.index).map((a) => a.command)
      const reference = views[0]!.applied
      expect(reference).toEqual(byIndex)
      expect(new Set(reference).size).toBe(CLIENTS * EACH)
      for (const [i, v] of views.entries()) expect(v.applied, `client c${i}`).toEqual(reference)

      for (const s of servers) {
        const rows = yield* Effect.promise(() =>
          waitFor(() => appliedOf(s), (r) => r.length >= CLIENTS * EACH, { what: `${s.id} applied every command`, timeoutMs: 60_000, show: (r) => String(r.length) })
        )
        const table = ClientSessionTable.empty()
        const applied = rows.filter((r) => table.shouldApply({ clientId: ClientId.make(r[2]), requestId: r[3] })).map((r) => r[1])
        expect(applied, `server ${s.id}`).toEqual(reference)
      }
    }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor)), 600_000)
})
