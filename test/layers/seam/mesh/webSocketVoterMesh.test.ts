/**
 * The WebSocket voter mesh over real sockets on loopback: three servers (each a `WebSocketHost`
 * whose relay id is its voter's), linked pairwise with the lower id dialling; frames flow both
 * ways on every pair; a server that goes away and comes back on the same port is linked again
 * under the same seams; a stranger or a voter without the secret cannot open a link.
 */
import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Scope, Stream } from "effect"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import type { VoterMeshShape } from "../../../../services/cluster/VoterMesh.js"
import { HostIdentity } from "../../../../layers/seam/websocket/node/HostIdentity.js"
import * as WebSocketHost from "../../../../layers/seam/websocket/node/WebSocketHost.js"
import { meshAuthenticator, MESH_ROOM } from "../../../../layers/seam/mesh/node/MeshIdentity.js"
import { WebSocketVoterMesh } from "../../../../layers/seam/mesh/node/WebSocketVoterMesh.js"
import { WebSocketLoom } from "../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { PeerToken } from "../../../../layers/seam/websocket/PeerToken.js"
import { RejectCode } from "../../../../layers/seam/websocket/RejectCode.js"
import { waitForEffect } from "../../../support/waitFor.js"

const SECRET = "mesh test secret, at least 16 bytes"
const VOTERS = ["a", "b", "c"] as const
const enc = new TextEncoder()
const dec = new TextDecoder()

/** A server for `id` on `port` (0: any) with the mesh identity, and its mesh. */
const server = (id: string, port: number, urls: () => ReadonlyArray<{ id: string; url: string }>) =>
  Effect.gen(function*() {
    const auth = yield* meshAuthenticator(SECRET, id, VOTERS)
    const host = yield* WebSocketHost.make({
      serverPeerId: id,
      port,
      identity: HostIdentity.verifier(auth),
      heartbeatInterval: Duration.seconds(1),
      reconnectWindow: Duration.seconds(2)
    }).pipe(Effect.orDie)
    return { host, start: () => WebSocketVoterMesh.make({ self: id, voters: urls(), relay: host, secret: SECRET }).pipe(Effect.orDie) }
  }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))

/** Collects frames of `seam` into an array (forked in the caller's scope). */
const collect = (seam: SeamShape) =>
  Effect.gen(function*() {
    const got: Array<string> = []
    yield* Effect.forkScoped(Stream.runForEach(seam.incoming, (s) => Effect.sync(() => void got.push(`${s.sender}:${dec.decode(s.payload)}`))))
    return got
  })

const peersOf = (mesh: VoterMeshShape, id: string) => mesh.seams.get(id as never)!.peers.get

describe("WebSocketVoterMesh", () => {
  it.scopedLive("links K_3 directly, carries frames both ways on every pair, and relinks a restarted server under the same seams", () =>
    Effect.gen(function*() {
      const urls: Array<{ id: string; url: string }> = []
      const servers = []
      for (const id of VOTERS) servers.push(yield* server(id, 0, () => urls))
      for (const [i, id] of VOTERS.entries()) urls.push({ id, url: servers[i]!.host.url })
      const meshes = yield* Effect.all(servers.map((s) => s.start()), { concurrency: "unbounded" }).pipe(
        Effect.provide(NodeSocket.layerWebSocketConstructor)
      )
      const seams = meshes.map((m, i) => m.seams.get(VOTERS[i] as never)!)
      const inboxes = yield* Effect.all(seams.map(collect))
      yield* waitForEffect(
        Effect.all(meshes.map((m, i) => peersOf(m, VOTERS[i]!))),
        (all) => all.every((p) => p.size === 3),
        { what: "every voter reaches both others", timeoutMs: 15_000, show: (all) => JSON.stringify(all.map((p) => [...p])) }
      )
      for (const [i, from] of seams.entries()) {
        for (const to of VOTERS) if (to !== VOTERS[i]) yield* from.sendTo(to as PeerId, enc.encode(`${VOTERS[i]}>${to}`))
      }
      yield* waitForEffect(Effect.sync(() => inboxes.map((x) => x.length)), (n) => n.every((k) => k === 2), {
        what: "each voter received one frame from each other voter", timeoutMs: 10_000, show: () => JSON.stringify(inboxes)
      })
      expect(inboxes[0]!.sort()).toEqual(["b:b>a", "c:c>a"])
      expect(inboxes[1]!.sort()).toEqual(["a:a>b", "c:c>b"])
      expect(inboxes[2]!.sort()).toEqual(["a:a>c", "b:b>c"])
      const links = yield* meshes[0]!.links
      expect(links.map((l) => [l.to, l.state, l.role])).toEqual([["b", "Up", "dials"], ["c", "Up", "dials"]])
      expect((yield* meshes[2]!.links).map((l) => [l.to, l.state, l.role])).toEqual([["a", "Up", "accepts"], ["b", "Up", "accepts"]])
    }))

  it.scopedLive("a voter without the secret, a stranger, and a higher id dialling a lower one are refused", () =>
    Effect.gen(function*() {
      const s = yield* server("b", 0, () => [])
      const join = (peerId: string, secret: string) =>
        Effect.flatMap(PeerToken.credentials(secret), (credentials) =>
          WebSocketLoom.join({ url: s.host.url, room: MESH_ROOM, peerId, displayName: peerId, credentials, connectTimeout: Duration.seconds(3) })
        ).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor), Effect.flip)
      expect(yield* join("a", "another secret of sixteen bytes")).toMatchObject({ code: RejectCode.AuthRefused })
      expect(yield* join("mallory", SECRET)).toMatchObject({ code: RejectCode.AuthRefused })
      expect(yield* join("c", SECRET)).toMatchObject({ code: RejectCode.AuthRefused })
      expect(s.host.counters.rejected["AuthRefused"]).toBe(3)
    }))

  it.scopedLive("a server that stops and comes back on its port is relinked; the others' seams never change", () =>
    Effect.gen(function*() {
      const urls: Array<{ id: string; url: string }> = []
      const a = yield* server("a", 0, () => urls)
      const cScope = yield* Scope.make()
      const c = yield* server("c", 0, () => urls).pipe(Scope.extend(cScope))
      const port = c.host.port
      urls.push({ id: "a", url: a.host.url }, { id: "c", url: c.host.url })
      const meshA = yield* a.start().pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))
      yield* c.start().pipe(Scope.extend(cScope), Effect.provide(NodeSocket.layerWebSocketConstructor))
      const seamA = meshA.seams.get("a" as never)!
      yield* waitForEffect(seamA.peers.get, (p) => p.has("c" as PeerId), { what: "a reaches c", timeoutMs: 15_000, show: (p) => [...p].join() })
      yield* Scope.close(cScope, Exit.void)
      yield* waitForEffect(seamA.peers.get, (p) => !p.has("c" as PeerId), { what: "a sees c gone", timeoutMs: 15_000, show: (p) => [...p].join() })
      const c2 = yield* server("c", port, () => urls)
      const meshC2 = yield* c2.start().pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))
      const got = yield* collect(meshC2.seams.get("c" as never)!)
      yield* waitForEffect(seamA.peers.get, (p) => p.has("c" as PeerId), { what: "a reaches the restarted c", timeoutMs: 15_000, show: (p) => [...p].join() })
      yield* seamA.sendTo("c" as PeerId, enc.encode("again"))
      yield* waitForEffect(Effect.sync(() => got), (g) => g.length === 1, { what: "the restarted c hears a", timeoutMs: 10_000 })
      expect(got).toEqual(["a:again"])
      expect(meshA.seams.get("a" as never)).toBe(seamA)
      const drops = (yield* meshA.links)[0]!.drops
      expect(drops).toBe(1)
    }))
})
