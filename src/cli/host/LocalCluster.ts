/**
 * `kuilt cluster`: m voters in one process, each on its own SQLite file under a data directory (or
 * in memory), linked by an in-memory fabric. The embedded default behind `npm start`.
 *
 * Every node has a scope of its own, so the dashboard can kill one (its scope closes, as a crash
 * would: the storage stays), restart it on its file, and cut links through the fabric's fault
 * controls (silent partitions, as a network would drop frames). Nodes added with `members add`
 * are started here as joiners (trusting the current voters, README "Trust") and recorded in the
 * data directory's `cluster.json`, so a restart of the process brings back every node.
 *
 * Failure modes: a node whose storage cannot open (locked by another process, a full disk,
 * corrupt) fails to start with its `StorageError`/`CorruptDurableState`; at start-up that fails
 * the whole cluster (`LocalClusterError` carries the node and the reason), at a restart from the
 * page it is a `ControlRefused`. A node that fail-stops later (a failed write) is shown down.
 */
import { FileSystem } from "@effect/platform"
import { Data, Effect, ExecutionStrategy, Exit, Option, Scope } from "effect"
import { SeamRaftTransport } from "../../../layers/raft/transport/SeamRaftTransport.js"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import * as SqlRaftStorage from "../../../layers/raft/storage/sql/SqlRaftStorage.js"
import { InMemoryLoom } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import type { InMemoryLoomShape } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { make as makeRaftNode } from "../../raft/RaftNode.js"
import { ControlRefused } from "../../dashboard/ClusterHost.js"
import type { ClusterHostShape, LocalNode, Partitions } from "../../dashboard/ClusterHost.js"
import { instrumentNode, instrumentStorage } from "../../observability/instrument.js"
import { observeNode } from "../../observability/NodeMetrics.js"
import { KvNode } from "../kv/KvNode.js"
import type { KvNodeShape } from "../kv/KvNode.js"
import { changeMembership, onLeader, promoted, transferFrom, withLearner, without } from "./leaderOps.js"
import * as Manifest from "./Manifest.js"

/** The session name of the in-memory fabric the nodes share. */
const SESSION = "kuilt-cluster"

export interface LocalClusterOptions {
  /** The founding voters of a fresh cluster (ignored when `dataDir` holds a `cluster.json`). */
  readonly voters: ReadonlyArray<string>
  /** Directory of the SQLite files and `cluster.json`; `undefined`: storage in memory. */
  readonly dataDir: string | undefined
  readonly raft?: Partial<RaftConfig>
  /** Passed to each node's key-value store. */
  readonly snapshotEvery?: number
}

/** A node of the cluster could not start (at start-up): which one, and why. */
export class LocalClusterError extends Data.TaggedError("LocalClusterError")<{
  readonly node: string | undefined
  readonly reason: string
}> {
  override get message() {
    return this.node === undefined ? this.reason : `node ${this.node}: ${this.reason}`
  }
}

interface Slot {
  readonly id: string
  /** The configuration it boots with: the founders, or none (a joiner). */
  readonly bootstrap: ClusterConfig
  readonly joinVia: ReadonlyArray<string>
  /** In-memory mode: the disk that outlives kills. */
  memory: InMemoryRaftStorage.InMemoryRaftStorage | undefined
  up: { readonly scope: Scope.CloseableScope; readonly kv: KvNodeShape } | undefined
  down: string | undefined
}

export interface LocalClusterShape extends ClusterHostShape {
  readonly loom: InMemoryLoomShape
  /** The founding voters. */
  readonly founders: ReadonlyArray<string>
  /** Where the files are (`undefined`: in memory). */
  readonly dataDir: string | undefined
}

/** Starts the cluster in the caller's scope; every node is up when it returns. */
export const make = (
  options: LocalClusterOptions
): Effect.Effect<LocalClusterShape, LocalClusterError, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const root = yield* Effect.scope
    const dir = options.dataDir
    const stored = dir === undefined ? Option.none() : yield* Manifest.read(dir).pipe(Effect.mapError((reason) => new LocalClusterError({ node: undefined, reason })))
    const manifest: Manifest.Manifest = Option.getOrElse(stored, () => ({ format: 1 as const, founders: [...options.voters], nodes: [...options.voters] }))
    if (manifest.founders.length === 0) return yield* new LocalClusterError({ node: undefined, reason: "a cluster needs at least one voter" })
    if (new Set(manifest.nodes).size !== manifest.nodes.length) {
      return yield* new LocalClusterError({ node: undefined, reason: `duplicate node ids: ${manifest.nodes.join(", ")}` })
    }
    let nodes = [...manifest.nodes]
    const fs = yield* FileSystem.FileSystem
    const saveManifest = (): Effect.Effect<void, string> =>
      dir === undefined
        ? Effect.void
        : Effect.provideService(Manifest.write(dir, { format: 1, founders: manifest.founders, nodes }), FileSystem.FileSystem, fs)
    if (Option.isNone(stored)) yield* saveManifest().pipe(Effect.mapError((reason) => new LocalClusterError({ node: undefined, reason })))

    const loom = yield* InMemoryLoom.make()
    const founders = ClusterConfig.ofVoters(...manifest.founders)
    const slots = new Map<string, Slot>()
    const slotFor = (id: string, joinVia: ReadonlyArray<string>): Slot => ({
      id,
      bootstrap: founders.voters.has(id as NodeId) ? founders : ClusterConfig.of([], [id]),
      joinVia,
      memory: undefined,
      up: undefined,
      down: undefined
    })
    for (const id of nodes) slots.set(id, slotFor(id, manifest.founders))
    const isolated = new Set<string>()
    const cuts: Array<readonly [string, string]> = []

    const weave = (id: string) =>
      loom.join({ sessionName: SESSION, peerKey: id }).pipe(
        Effect.catchTag("WeaveFailed", () => loom.host({ sessionName: SESSION, peerKey: id, maxPeers: 256 }))
      )

    const openStorage = (slot: Slot): Effect.Effect<RaftStorageShape, string, Scope.Scope> => {
      if (dir === undefined) {
        return Effect.map(InMemoryRaftStorage.make(slot.memory === undefined ? {} : { disk: slot.memory.disk }), (s) => {
          slot.memory = s
          return s
        })
      }
      return SqlRaftStorage.makeSqlite({ filename: Manifest.nodeFile(dir, slot.id) }).pipe(Effect.mapError((e) => e._tag === "StorageError" ? e.reason : e.message))
    }

    /** Starts `slot`'s node in a scope of its own (closed on failure). */
    const start = (slot: Slot): Effect.Effect<KvNodeShape, string> =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(root, ExecutionStrategy.sequential)
        const built = yield* Effect.gen(function*() {
          const seam = yield* weave(slot.id).pipe(Effect.mapError((e) => `cannot join the fabric: ${e.reason}`))
          const storage = yield* openStorage(slot)
          const raw = yield* makeRaftNode({
            cluster: slot.bootstrap,
            transport: SeamRaftTransport.fromSeam(seam),
            storage: instrumentStorage(slot.id, storage),
            ...(options.raft === undefined ? {} : { config: options.raft }),
            ...(slot.bootstrap.voters.size === 0 ? { joinVia: slot.joinVia } : {})
          }).pipe(Effect.mapError((e) => e.message))
          const kv = yield* KvNode.make(instrumentNode(raw), options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery })
          yield* observeNode(raw, { snapshotBytes: () => kv.store.snapshotBytes })
          return kv
        }).pipe(Scope.extend(scope), Effect.either)
        if (built._tag === "Left") {
          yield* Scope.close(scope, Exit.void)
          slot.down = built.left
          return yield* Effect.fail(built.left)
        }
        const kv = built.right
        slot.up = { scope, kv }
        slot.down = undefined
        // A node that fail-stops (a failed write) is shown down with its reason.
        yield* kv.raft.awaitFailure.pipe(
          Effect.flatMap((failure) =>
            Effect.gen(function*() {
              yield* Effect.logError(`${slot.id} stopped: ${failure.message}`).pipe(Effect.annotateLogs({ node: slot.id }))
              if (slot.up?.kv === kv) {
                slot.up = undefined
                slot.down = `stopped: ${failure.message}`
                yield* Effect.forkIn(Scope.close(scope, Exit.void), root)
              }
            })
          ),
          Effect.forkIn(scope)
        )
        yield* Effect.logInfo(`${slot.id} started`).pipe(Effect.annotateLogs({ node: slot.id }))
        return kv
      })

    const stop = (slot: Slot, reason: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const up = slot.up
        slot.up = undefined
        slot.down = reason
        return up === undefined ? Effect.void : Scope.close(up.scope, Exit.void)
      })

    for (const slot of slots.values()) {
      yield* start(slot).pipe(Effect.mapError((reason) => new LocalClusterError({ node: slot.id, reason })))
    }

    const slotOf = (id: string): Effect.Effect<Slot, ControlRefused> =>
      Effect.suspend(() => {
        const slot = slots.get(id)
        return slot === undefined ? Effect.fail(new ControlRefused({ reason: `no node ${id} in this cluster` })) : Effect.succeed(slot)
      })

    const localNodes = Effect.sync((): ReadonlyArray<LocalNode> =>
      nodes.map((id) => {
        const slot = slots.get(id)!
        return { id, kv: slot.up?.kv, down: slot.up === undefined ? slot.down ?? "stopped" : undefined }
      })
    )

    const partitions = Effect.sync((): Partitions => ({ isolated: [...isolated].sort(), cuts: [...cuts] }))
    const peer = (id: string) => id as PeerId

    const cluster: LocalClusterShape = {
      mode: "cluster",
      name: "kuilt-cluster",
      loom,
      founders: manifest.founders,
      dataDir: dir,
      nodes: localNodes,
      peers: [],
      addLearner: (id) =>
        Effect.gen(function*() {
          if (!slots.has(id)) {
            // The joiner trusts the voters of the configuration in force (README, "Trust").
            const running = (yield* localNodes).find((n) => n.kv !== undefined)
            const voters = [...(running === undefined ? founders : yield* running.kv!.raft.membership.get).voters]
            const slot = slotFor(id, voters)
            slots.set(id, slot)
            nodes = [...nodes, id]
            yield* saveManifest().pipe(Effect.catchAll((reason) => Effect.logWarning(reason)))
            yield* start(slot).pipe(Effect.catchAll((reason) => Effect.logWarning(`${id} could not start: ${reason}`)))
          }
          return yield* onLeader(yield* localNodes, [], (leader) => changeMembership(leader, withLearner(id)))
        }),
      promote: (id) => Effect.flatMap(localNodes, (ns) => onLeader(ns, [], (leader) => changeMembership(leader, promoted(id)))),
      remove: (id) =>
        Effect.gen(function*() {
          const config = yield* onLeader(yield* localNodes, [], (leader) => changeMembership(leader, without(id)))
          const slot = slots.get(id)
          if (slot !== undefined && !manifest.founders.includes(id)) {
            yield* stop(slot, "removed from the cluster")
            slots.delete(id)
            nodes = nodes.filter((n) => n !== id)
            yield* saveManifest().pipe(Effect.catchAll((reason) => Effect.logWarning(reason)))
          } else if (slot !== undefined) {
            yield* stop(slot, "removed from the cluster")
          }
          return config
        }),
      transfer: (target) => Effect.flatMap(localNodes, (ns) => onLeader(ns, [], (leader) => transferFrom(leader, target))),
      controls: {
        kill: (id) =>
          Effect.flatMap(slotOf(id), (slot) =>
            slot.up === undefined
              ? Effect.fail(new ControlRefused({ reason: `${id} is not running` }))
              : Effect.zipRight(stop(slot, "killed"), Effect.logWarning(`${id} killed`).pipe(Effect.annotateLogs({ node: id })))),
        restart: (id) =>
          Effect.flatMap(slotOf(id), (slot) =>
            slot.up !== undefined
              ? Effect.fail(new ControlRefused({ reason: `${id} is already running` }))
              : Effect.asVoid(Effect.mapError(start(slot), (reason) => new ControlRefused({ reason: `${id} could not start: ${reason}` })))),
        isolate: (id) =>
          Effect.flatMap(slotOf(id), () =>
            Effect.zipRight(
              loom.faults.isolate(peer(id)),
              Effect.sync(() => isolated.add(id)).pipe(Effect.zipRight(Effect.logWarning(`${id} isolated`)))
            )),
        cut: (a, b) =>
          Effect.gen(function*() {
            yield* slotOf(a)
            yield* slotOf(b)
            if (a === b) return yield* new ControlRefused({ reason: "a link joins two different nodes" })
            yield* loom.faults.cut(peer(a), peer(b))
            if (!cuts.some(([x, y]) => (x === a && y === b) || (x === b && y === a))) cuts.push([a, b])
            yield* Effect.logWarning(`link ${a}–${b} cut`)
          }),
        heal: (id) =>
          Effect.gen(function*() {
            if (id === undefined) {
              yield* loom.faults.healAll
              isolated.clear()
              cuts.length = 0
            } else {
              yield* slotOf(id)
              yield* loom.faults.heal(peer(id))
              isolated.delete(id)
              for (let i = cuts.length - 1; i >= 0; i--) if (cuts[i]![0] === id || cuts[i]![1] === id) cuts.splice(i, 1)
            }
            yield* Effect.logInfo(id === undefined ? "every link healed" : `${id}'s links healed`)
          }),
        partitions
      }
    }
    return cluster
  })

/** `LocalCluster.make`: see `make`. */
export const LocalCluster = { make }
