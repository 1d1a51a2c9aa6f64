/**
 * `kuilt serve`'s host: one Raft voter in this process, on a SQLite file (or in memory), linked to
 * the other servers through the WebSocket mesh (`MeshTransport.ts`), serving the built-in
 * key-value store.
 *
 * Membership changes and transfers run on the leader: a server that does not lead answers
 * `NotLeaderHere` with the leader's URL (from `--peers`), and the client follows it. Fault
 * controls exist only when the server was started with `--allow-faults` (a local or test
 * cluster): `kill` ends this process as a crash would (SIGKILL; the file stays), `isolate` / `cut`
 * / `heal` drop frames in the mesh. A control naming another server's node is forwarded to that
 * server's API, so a dashboard opened on any server can kill or isolate any node.
 *
 * Failure modes: storage that cannot open (a data directory in use, a full disk, corrupt files) and
 * a relay that cannot start fail `make` with a readable reason; a node that fail-stops later is
 * shown down (and `/health` answers 503).
 */
import { Effect, Schema } from "effect"
import type { Scope } from "effect"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import * as SqlRaftStorage from "../../../layers/raft/storage/sql/SqlRaftStorage.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import { make as makeRaftNode } from "../../raft/RaftNode.js"
import { ClusterStatus } from "../../dashboard/ApiSchema.js"
import type { NodeStatus } from "../../dashboard/ApiSchema.js"
import { ControlRefused } from "../../dashboard/ClusterHost.js"
import { downStatus } from "../../dashboard/Status.js"
import type { ClusterControls, ClusterHostShape, LocalNode, Partitions } from "../../dashboard/ClusterHost.js"
import { instrumentNode, instrumentStorage } from "../../observability/instrument.js"
import { observeNode } from "../../observability/NodeMetrics.js"
import { KvNode } from "../kv/KvNode.js"
import type { KvNodeShape } from "../kv/KvNode.js"
import { changeMembership, onLeader, promoted, transferFrom, withLearner, without } from "./leaderOps.js"
import * as Manifest from "./Manifest.js"
import * as MeshTransport from "./MeshTransport.js"
import type { MeshPeer } from "./MeshTransport.js"

export interface ServeOptions {
  /** This server's node and URL (it must be in `peers` too). */
  readonly self: MeshPeer
  /** Every server of the cluster, this one included: the founding voters. */
  readonly peers: ReadonlyArray<MeshPeer>
  /** Directory of the SQLite file; `undefined`: in memory. */
  readonly dataDir: string | undefined
  readonly allowFaults: boolean
  readonly snapshotEvery?: number
  readonly raft?: Partial<RaftConfig>
}

export interface ServeHostShape extends ClusterHostShape {
  readonly kv: KvNodeShape
  readonly mesh: MeshTransport.MeshTransport
  /** Joins the mesh; call once the HTTP port (with the relay) listens. */
  readonly start: Effect.Effect<void, string, Scope.Scope>
}

/** Builds the server's node in the caller's scope; fails with a readable reason. */
export const make = (options: ServeOptions): Effect.Effect<ServeHostShape, string, Scope.Scope> =>
  Effect.gen(function*() {
    const { self, peers } = options
    const mesh = yield* MeshTransport.make(self, peers).pipe(Effect.mapError((e) => e.reason))
    const storage: RaftStorageShape = options.dataDir === undefined
      ? yield* InMemoryRaftStorage.make()
      : yield* SqlRaftStorage.makeSqlite({ filename: Manifest.nodeFile(options.dataDir, self.id) }).pipe(Effect.mapError((e) => e._tag === "StorageError" ? e.reason : e.message))
    const raw = yield* makeRaftNode({
      cluster: ClusterConfig.ofVoters(...peers.map((p) => p.id)),
      transport: mesh,
      storage: instrumentStorage(self.id, storage),
      ...(options.raft === undefined ? {} : { config: options.raft })
    }).pipe(Effect.mapError((e) => e.message))
    const kv = yield* KvNode.make(instrumentNode(raw), options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery })
    yield* observeNode(raw, { snapshotBytes: () => kv.store.snapshotBytes })
    yield* raw.awaitFailure.pipe(
      Effect.flatMap((failure) => Effect.logError(`${self.id} stopped: ${failure.message}`)),
      Effect.forkScoped
    )
    const others = peers.filter((p) => p.id !== self.id)
    const node: LocalNode = { id: self.id, kv, down: undefined }
    const nodes = Effect.succeed([node] as ReadonlyArray<LocalNode>)

    /** Forwards a control for another server's node to that server's API. */
    const forward = (id: string, path: string, body?: unknown): Effect.Effect<void, ControlRefused> =>
      Effect.gen(function*() {
        const peer = others.find((p) => p.id === id)
        if (peer === undefined) return yield* new ControlRefused({ reason: `no node ${id} in this cluster` })
        const response = yield* Effect.tryPromise({
          try: (signal) =>
            fetch(`${peer.url}${path}`, {
              method: "POST",
              signal,
              headers: { "content-type": "application/json" },
              ...(body === undefined ? {} : { body: JSON.stringify(body) })
            }).then(async (r) => ({ ok: r.ok, text: await r.text() })),
          catch: (e) => new ControlRefused({ reason: `${id} (${peer.url}) did not answer: ${String(e)}` })
        }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new ControlRefused({ reason: `${id} did not answer in time` }) }))
        if (!response.ok) {
          const message = (() => {
            try {
              return String((JSON.parse(response.text) as { message?: unknown }).message ?? response.text)
            } catch {
              return response.text
            }
          })()
          return yield* new ControlRefused({ reason: `${id}: ${message}` })
        }
      })

    const partitions = Effect.map(mesh.faults, (f): Partitions => ({
      isolated: f.isolated ? [self.id] : [],
      cuts: f.cut.map((p) => [self.id, p] as const)
    }))

    const controls: ClusterControls = {
      kill: (id) =>
        id !== self.id
          ? forward(id, `/api/nodes/${encodeURIComponent(id)}/kill`)
          // Answer first, then die as a crash would: no finalizer runs, the file stays as it is.
          : Effect.zipRight(
            Effect.logWarning(`${self.id} killed from the API`),
            Effect.sync(() => void setTimeout(() => process.kill(process.pid, "SIGKILL"), 50))
          ),
      restart: (id) =>
        Effect.fail(new ControlRefused({ reason: `${id} is a process of its own: start it again with kuilt serve (kuilt up restarts it for you)` })),
      isolate: (id) =>
        id !== self.id ? forward(id, `/api/nodes/${encodeURIComponent(id)}/isolate`) : Effect.zipRight(mesh.isolate(true), Effect.logWarning(`${self.id} isolated`)),
      cut: (a, b) => {
        if (a === b) return Effect.fail(new ControlRefused({ reason: "a link joins two different nodes" }))
        if (a !== self.id && b !== self.id) return forward(a, "/api/cut", { a, b })
        const other = a === self.id ? b : a
        if (!others.some((p) => p.id === other)) return Effect.fail(new ControlRefused({ reason: `no node ${other} in this cluster` }))
        return Effect.zipRight(mesh.cut(other, true), Effect.logWarning(`link ${self.id}–${other} cut`))
      },
      heal: (id) =>
        id !== undefined && id !== self.id
          ? forward(id, `/api/nodes/${encodeURIComponent(id)}/heal`)
          : Effect.gen(function*() {
            const f = yield* mesh.faults
            yield* mesh.isolate(false)
            for (const p of f.cut) yield* mesh.cut(p, false)
            yield* Effect.logInfo(`${self.id}'s links healed`)
          }),
      partitions
    }

    const decodeStatus = Schema.decodeUnknown(Schema.parseJson(ClusterStatus))
    /** The other servers' own view of their nodes (an unreachable one is shown down). */
    const remote: Effect.Effect<ReadonlyArray<NodeStatus>> = Effect.forEach(others, (p) =>
      Effect.tryPromise((signal) => fetch(`${p.url}/api/status`, { signal }).then((r) => r.text())).pipe(
        Effect.flatMap(decodeStatus),
        Effect.timeout("1 second"),
        Effect.map((s) => s.nodes.filter((n) => n.id === p.id)),
        Effect.orElseSucceed(() => [downStatus({ id: p.id, kv: undefined, down: `unreachable at ${p.url}` })])
      ), { concurrency: "unbounded" }).pipe(Effect.map((xs) => xs.flat()))

    const host: ServeHostShape = {
      mode: "serve",
      name: self.id,
      nodes,
      peers: others.map((p) => ({ id: p.id, url: p.url })),
      remote,
      kv,
      mesh,
      start: Effect.mapError(mesh.start, (e) => e.reason),
      addLearner: (id) => Effect.flatMap(nodes, (ns) => onLeader(ns, others, (leader) => changeMembership(leader, withLearner(id)))),
      promote: (id) => Effect.flatMap(nodes, (ns) => onLeader(ns, others, (leader) => changeMembership(leader, promoted(id)))),
      remove: (id) => Effect.flatMap(nodes, (ns) => onLeader(ns, others, (leader) => changeMembership(leader, without(id)))),
      transfer: (target) => Effect.flatMap(nodes, (ns) => onLeader(ns, others, (leader) => transferFrom(leader, target))),
      controls: options.allowFaults ? controls : undefined
    }
    return host
  })
