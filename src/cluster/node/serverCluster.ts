/**
 * `serverCluster`: one server of the voter core, in Node. It listens on one port (an
 * `@effect/platform` `HttpServer`) that serves the voter links, the clients and `/health`; runs
 * the voters it owns on SQLite (one file per voter in `dataDir`); links them to every other voter
 * (`VoterMesh`: in memory when it runs them all, direct WebSocket links otherwise); and admits
 * learner clients once `start` runs.
 *
 * Two layouts: every voter in one process (`voters: ["a", "b", "c"]`, no URLs needed), or one voter
 * per process (`voters: [{ id, url }, …]`, `self: "b"`, the same `secret` everywhere). Clients need
 * only the servers' URLs (`ClusterEndpoints`).
 */
import type { HttpApp } from "@effect/platform"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeSocket } from "@effect/platform-node"
import { Context, Duration, Effect, ExecutionStrategy, Exit, Layer, Scope } from "effect"
import * as Http from "node:http"
import { join } from "node:path"
import { ServerClusterError } from "../../../services/cluster/ClusterErrors.js"
import type { ServerClusterShape } from "../../../services/cluster/ServerCluster.js"
import type { VoterMeshShape } from "../../../services/cluster/VoterMesh.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import { StorageError } from "../../../services/raft/RaftErrors.js"
import * as SqlRaftStorage from "../../../layers/raft/storage/sql/SqlRaftStorage.js"
import { InMemoryVoterMesh } from "../../../layers/seam/mesh/InMemoryVoterMesh.js"
import { WebSocketVoterMesh } from "../../../layers/seam/mesh/node/WebSocketVoterMesh.js"
import { make as makeRelay } from "../../../layers/seam/websocket/node/WebSocketRelay.js"
import type { WebSocketRelayOptions } from "../../../layers/seam/websocket/node/WebSocketHostOptions.js"
import { CLIENT_ROOM } from "../ClusterWire.js"
import * as ServerCore from "../ServerCore.js"
import { clusterIdentity } from "./ClusterIdentity.js"

/** A voter of the core: its id, and (for a voter another process runs) its server's relay URL. */
export type ClusterVoter = string | { readonly id: string; readonly url?: string }

/** How to run a cluster server. */
export interface ServerClusterOptions {
  /** Every voter of the core, in the same order on every server (1, 3 or 5 of them in practice). */
  readonly voters: ReadonlyArray<ClusterVoter>
  /** The voter this process runs (one-per-process layout). Default: all of them, in this process. */
  readonly self?: string
  /** The cluster secret (≥ 16 bytes), the same on every server: it authenticates the voter links. Needed unless every voter runs here. */
  readonly secret?: string | Uint8Array
  /** When set, a client needs a `PeerToken` for its id in the client room minted with this secret. */
  readonly clientSecret?: string | Uint8Array
  /** Directory of the SQLite files (one per voter, created when missing). Needed unless `storage` is given. */
  readonly dataDir?: string
  /** Storage per voter instead of SQLite in `dataDir` (e.g. `InMemoryRaftStorage` for tests). */
  readonly storage?: (voter: NodeId) => Effect.Effect<RaftStorageShape, StorageError, Scope.Scope>
  /** TCP port; 0 (default) picks a free one (read `port`). A restarted server must reuse its port. */
  readonly port?: number
  /** Interface. Default `127.0.0.1` (loopback only: exposing a server is a choice). */
  readonly host?: string
  /** Path of the relay (voter links and clients). Default `/kuilt`. */
  readonly path?: string
  /** Raft tuning of the voters. */
  readonly raft?: Partial<RaftConfig>
  /** Most learners the cluster admits (refused beyond, with `AdmissionRefused`). Default 1024. */
  readonly maxLearners?: number
  /** How long a learner may be attached nowhere before it is removed. Default 30 s. */
  readonly learnerGrace?: Duration.DurationInput
  /**
   * Relay limits (rates, frame sizes, connections per address, …). Defaults are the relay's, except
   * a 1 s heartbeat (a dead link is noticed in 3 s), a 2 s reconnect window and a room capacity that
   * fits `maxLearners`.
   */
  readonly relay?: Omit<WebSocketRelayOptions, "identity" | "serverPeerId">
  /** More routes on the same port (a dashboard, metrics): asked for every request the server does not serve itself. */
  readonly routes?: (cluster: ServerClusterShape) => HttpApp.Default<never, HttpServerRequest.HttpServerRequest>
}

const fail = (reason: string) => new ServerClusterError({ reason })

/** Which voters run here, and the URLs of the others; a `ServerClusterError` for a layout that cannot work. */
const layout = (options: ServerClusterOptions) => {
  const voters = options.voters.map((v) => (typeof v === "string" ? { id: v, url: undefined } : { id: v.id, url: v.url }))
  const ids = voters.map((v) => v.id)
  if (ids.length === 0) return fail("no voters")
  if (new Set(ids).size !== ids.length) return fail(`duplicate voter ids: ${ids.join(", ")}`)
  if (ids.some((id) => id.length === 0 || new TextEncoder().encode(id).byteLength > 255)) return fail("a voter id must be 1..255 bytes")
  if (options.self !== undefined && !ids.includes(options.self)) return fail(`self "${options.self}" is not a voter`)
  const owned = options.self === undefined ? ids : [options.self]
  const remote = voters.filter((v) => !owned.includes(v.id))
  const missing = remote.filter((v) => v.url === undefined)
  if (missing.length > 0) return fail(`no URL for voter(s) run elsewhere: ${missing.map((v) => v.id).join(", ")}`)
  if (remote.length > 0 && options.secret === undefined) return fail("a cluster secret is needed to link voters of other servers")
  if (options.storage === undefined && options.dataDir === undefined) return fail("a dataDir (SQLite) or a storage is needed")
  return { voters, ids: ids as ReadonlyArray<string> as ReadonlyArray<NodeId>, owned: owned as ReadonlyArray<string> as ReadonlyArray<NodeId>, remote }
}

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

/** The SQLite file of `voter` in `dir` (ids are escaped, so any id makes a plain file name). */
export const voterFile = (dir: string, voter: string): string => join(dir, `voter-${encodeURIComponent(voter)}.sqlite`)

/**
 * Starts a server in the caller's scope: listening, voters running, links dialling. Clients are
 * admitted once `start` runs. Fails with `ServerClusterError` for options that cannot work, a port
 * it cannot listen on, a secret too short, or storage that cannot open.
 */
export const serverCluster = (options: ServerClusterOptions): Effect.Effect<ServerClusterShape, ServerClusterError, Scope.Scope> =>
  Effect.gen(function*() {
    const l = layout(options)
    if (l instanceof ServerClusterError) return yield* l
    const entry = l.owned[0]!
    const maxLearners = options.maxLearners ?? ServerCore.DEFAULT_MAX_LEARNERS
    if (!Number.isSafeInteger(maxLearners) || maxLearners < 0) return yield* fail(`maxLearners must be a non-negative integer`)
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
      effect.pipe(Scope.extend(scope), Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))

    const identity = yield* clusterIdentity({ self: entry, voters: l.ids, secret: options.secret, clientSecret: options.clientSecret }).pipe(
      Effect.mapError((e) => fail(e.message))
    )
    if (options.clientSecret === undefined) {
      yield* Effect.logWarning("kuilt cluster: clients are not authenticated (no clientSecret): any client may join under any free non-voter id")
    }
    const relay = yield* inScope(makeRelay({
      heartbeatInterval: Duration.seconds(1),
      reconnectWindow: Duration.seconds(2),
      roomCapacity: Math.min(4096, Math.max(64, maxLearners + l.ids.length + 1)),
      ...options.relay,
      serverPeerId: entry,
      identity
    })).pipe(Effect.mapError((e) => fail(e.reason)))

    // The HTTP server, in a scope of its own closed after the relay (its shutdown waits for every
    // WebSocket, and only the relay closes them): the same order as `WebSocketHost`.
    const host = options.host ?? "127.0.0.1"
    const path = options.path ?? "/kuilt"
    const nodeServer = Http.createServer()
    const serverScope = yield* Scope.make()
    yield* Scope.addFinalizer(scope, Effect.sync(() => nodeServer.close()).pipe(
      Effect.zipRight(relay.close),
      Effect.zipRight(Effect.sync(() => nodeServer.closeAllConnections())),
      Effect.zipRight(Scope.close(serverScope, Exit.void))
    ))
    const server = yield* NodeHttpServer.make(() => nodeServer, { port: options.port ?? 0, host }).pipe(
      Scope.extend(serverScope),
      Effect.mapError((e) => fail(`cannot listen on ${host}:${options.port ?? 0}: ${String(e.cause)}`)),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
    const port = server.address._tag === "TcpAddress" ? server.address.port : options.port ?? 0
    const url = `ws://${host.includes(":") ? `[${host}]` : host}:${port}${path}`
    let cluster: ServerClusterShape | undefined
    let extra: HttpApp.Default<never, HttpServerRequest.HttpServerRequest> | undefined
    const notFound = Effect.succeed(HttpServerResponse.empty({ status: 404 }))
    const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const p = pathOf(request.url)
      if (p === path) return relay.app
      if (p === "/health" && cluster !== undefined) {
        return Effect.map(cluster.health, (h) => HttpServerResponse.unsafeJson(h, { status: h.ok ? 200 : 503 }))
      }
      return extra ?? notFound
    })
    yield* server.serve(app).pipe(Scope.extend(serverScope))

    const mesh: VoterMeshShape = l.remote.length === 0
      ? yield* inScope(InMemoryVoterMesh.make(l.owned)).pipe(Effect.mapError((e) => fail(e.reason)))
      : yield* inScope(WebSocketVoterMesh.make({
        self: entry,
        voters: l.voters.map((v) => ({ id: v.id, url: v.url ?? url })),
        relay,
        secret: options.secret!
      }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))).pipe(Effect.mapError((e) => fail(e.message)))

    const storage = options.storage ?? ((voter: NodeId) =>
      SqlRaftStorage.makeSqlite({ filename: voterFile(options.dataDir!, voter) }).pipe(
        // A missing optional SQLite driver is a storage that cannot open: the voter cannot start.
        Effect.catchTag("SqliteDriverMissing", (e) => Effect.fail(new StorageError({ reason: e.message, cause: e })))
      ))
    const connected = Effect.map(relay.rooms, (rooms) => {
      const room = rooms.find((r) => r.name === CLIENT_ROOM)
      return new Set(room === undefined ? [] : room.members.filter((m) => m.connected && m.peerId !== entry).map((m) => m.peerId))
    })
    cluster = yield* inScope(ServerCore.make({
      voters: l.ids,
      owned: l.owned,
      mesh,
      storage,
      clientRoom: relay.member(CLIENT_ROOM, entry),
      connected,
      clientBudget: relay.maxPayloadBytes,
      url,
      port,
      close: Scope.close(scope, Exit.void),
      ...(options.raft === undefined ? {} : { raft: options.raft }),
      maxLearners,
      ...(options.learnerGrace === undefined ? {} : { learnerGrace: options.learnerGrace })
    })).pipe(Effect.mapError((e) => fail(`a voter cannot start: ${e.message}`)))
    extra = options.routes?.(cluster)
    yield* Effect.logInfo(`kuilt cluster server ${entry} listening at ${url} (voters ${l.ids.join(", ")}; runs ${l.owned.join(", ")})`)
    return cluster
  })

/**
 * A cluster server as a Layer: built and started (`start` runs), bound to the Layer's scope. Fails
 * with `ServerClusterError`.
 */
export const layer = (options: ServerClusterOptions): Layer.Layer<ServerCluster, ServerClusterError> =>
  Layer.scoped(ServerCluster, Effect.tap(serverCluster(options), (c) => c.start))

/**
 * The server cluster as a service (its interface is `ServerClusterShape`), with its constructors:
 * `ServerCluster.make(options)` (not started: call `start`) and `ServerCluster.layer(options)`
 * (started).
 */
export class ServerCluster extends Context.Tag("kuilt/ServerCluster")<ServerCluster, ServerClusterShape>() {
  static readonly make = serverCluster
  static readonly layer = layer
}
