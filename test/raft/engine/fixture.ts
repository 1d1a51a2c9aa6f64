/**
 * A Raft cluster over InMemoryLoom under TestClock for engine tests: each node has its own Scope
 * (closing it = a crash), its own seeded Random and an InMemoryRaftStorage disk that survives a
 * restart.
 */
import { Effect, Exit, Option, Random, Scope, TestClock } from "effect"
import { InMemoryLoom, type InMemoryLoomShape } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import * as InMemoryRaftStorage from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../../layers/raft/transport/SeamRaftTransport.js"
import { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import type { ClientIdentity } from "../../../services/raft/ClientId.js"
import type { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import * as Raft from "../../../src/raft/RaftNode.js"

export const FAST: Partial<RaftConfig> = { electionTimeoutMin: 50, electionTimeoutMax: 100, heartbeatInterval: 10 }

export interface TestNode {
  readonly id: string
  node: RaftNodeShape
  scope: Scope.CloseableScope
  readonly disk: InMemoryRaftStorage.Disk
  up: boolean
}

export interface TestCluster {
  readonly loom: InMemoryLoomShape
  readonly nodes: ReadonlyArray<TestNode>
  readonly byId: (id: string) => TestNode
  readonly crash: (id: string) => Effect.Effect<void>
  readonly restart: (id: string) => Effect.Effect<void, unknown>
  readonly leader: Effect.Effect<TestNode | undefined>
  /**
   * Starts a new node on an empty disk with its own bootstrap (a joiner: no voters, itself a
   * learner), joining through `joinVia` (default: the founding nodes).
   */
  readonly join: (id: string, bootstrap: ClusterConfig, joinVia?: ReadonlyArray<string>) => Effect.Effect<TestNode, unknown>
}

export const startCluster = (options: {
  readonly ids: ReadonlyArray<string>
  readonly cluster: ClusterConfig
  readonly config?: Partial<RaftConfig>
  readonly seed?: number
  readonly maxPayloadBytes?: number
  /** Per-node client identity (default `Auto`). */
  readonly identities?: Readonly<Record<string, ClientIdentity>>
  /** Per-node disks to start from (default: empty ones), e.g. prefilled through the storage API. */
  readonly disks?: Readonly<Record<string, InMemoryRaftStorage.Disk>>
}) =>
  Effect.gen(function*() {
    const loom = yield* InMemoryLoom.make({
      policy: DeliveryPolicy.lossy(4096),
      seed: options.seed ?? 1,
      ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {})
    })
    const seed = options.seed ?? 1
    const nodes: Array<TestNode> = []
    let incarnation = 0
    const bootstraps = new Map<string, ClusterConfig>()
    const joinVias = new Map<string, ReadonlyArray<string>>()
    const seedIndex = (id: string) => {
      const i = options.ids.indexOf(id)
      return i >= 0 ? i : options.ids.length + [...bootstraps.keys()].indexOf(id)
    }
    const boot = (id: string, disk: InMemoryRaftStorage.Disk, first: boolean) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const seam = yield* (first && id === options.ids[0]
          ? loom.host({ sessionName: "raft", peerKey: id, maxPeers: 16 })
          : loom.join({ sessionName: "raft", peerKey: id })).pipe(Scope.extend(scope))
        const storage = yield* InMemoryRaftStorage.make({ disk })
        const node = yield* Raft.make({
          cluster: bootstraps.get(id) ?? options.cluster,
          transport: SeamRaftTransport.fromSeam(seam),
          storage,
          config: options.config ?? FAST,
          ...(joinVias.has(id) ? { joinVia: joinVias.get(id)! } : {}),
          ...(options.identities?.[id] !== undefined ? { identity: options.identities[id] } : {})
        }).pipe(
          Scope.extend(scope),
          Effect.withRandom(Random.make(seed * 1000 + seedIndex(id) * 10 + incarnation++))
        )
        return { node, scope }
      })
    for (const id of options.ids) {
      const disk = options.disks?.[id] ?? InMemoryRaftStorage.Disk.make()
      const { node, scope } = yield* boot(id, disk, true)
      nodes.push({ id, node, scope, disk, up: true })
    }
    const byId = (id: string) => nodes.find((n) => n.id === id)!
    const cluster: TestCluster = {
      loom,
      nodes,
      byId,
      crash: (id) =>
        Effect.gen(function*() {
          const n = byId(id)
          n.up = false
          yield* Scope.close(n.scope, Exit.void)
        }),
      restart: (id) =>
        Effect.gen(function*() {
          const n = byId(id)
          const { node, scope } = yield* boot(id, n.disk, false)
          n.node = node
          n.scope = scope
          n.up = true
        }),
      leader: Effect.gen(function*() {
        for (const n of nodes) if (n.up && (yield* n.node.role.get) === "Leader") return n
        return undefined
      }),
      join: (id, bootstrap, joinVia) =>
        Effect.gen(function*() {
          bootstraps.set(id, bootstrap)
          joinVias.set(id, joinVia ?? options.ids)
          const disk = InMemoryRaftStorage.Disk.make()
          const { node, scope } = yield* boot(id, disk, false)
          const n: TestNode = { id, node, scope, disk, up: true }
          nodes.push(n)
          return n
        })
    }
    yield* Effect.addFinalizer(() => Effect.forEach(nodes, (n) => (n.up ? Scope.close(n.scope, Exit.void) : Effect.void)))
    return cluster
  })

/** Advances virtual time in 1 ms steps until `predicate` holds; fails after `maxMs`. */
export const advanceUntil = <E>(predicate: Effect.Effect<boolean, E>, maxMs: number, what: string) =>
  Effect.gen(function*() {
    for (let t = 0; t <= maxMs; t++) {
      if (yield* predicate) return
      yield* TestClock.adjust("1 millis")
    }
    return yield* Effect.dieMessage(`timed out after ${maxMs} virtual ms waiting for ${what}`)
  })

export const awaitLeader = (c: TestCluster, maxMs = 2000) =>
  Effect.gen(function*() {
    yield* advanceUntil(Effect.map(c.leader, (l) => l !== undefined), maxMs, "a leader")
    return (yield* c.leader)!
  })

export const leaderOf = (n: RaftNodeShape) => Effect.map(n.leader.get, Option.getOrUndefined)

export const bytes = (s: string) => new TextEncoder().encode(s)
export const text = (b: Uint8Array) => new TextDecoder().decode(b)
