/**
 * `SimulatedCluster`: real Raft nodes (the Effect engine, codec and storage contract as shipped)
 * on one `InMemoryLoom`, on virtual time, with the faults a distributed system meets —
 * crashes with a storage fault model, partitions, pauses, a lossy network — and bounded waits that
 * explain themselves when they fail. It is for users testing their own state machine against the
 * real engine; the seed-volume simulator of the core lives in `src/testing/sim` (no Effect, much
 * faster, far less faithful to the engine).
 */
import type { Effect, Option, Scope, Subscribable } from "effect"
import type { InMemoryLoomShape } from "../../../layers/seam/inmemory/InMemoryLoom.js"
import type { Disk } from "../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import type { CommandEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { LeadershipLost, NotLeader, PayloadTooLarge } from "../../../services/raft/RaftErrors.js"
import type { RaftNodeShape } from "../../../services/raft/RaftNode.js"
import type { RaftRole } from "../../../services/raft/RaftRole.js"
import type { RaftNodeStartError } from "../../raft/RaftNode.js"
import type { ChurnDetected, InvariantViolation, SimulationTimeout } from "./errors.js"
import type { ElectionCounts } from "./History.js"
import type { NetworkSettings, Nodes } from "./Network.js"
import { make as makeCluster, SIMULATION_RAFT_CONFIG } from "./makeCluster.js"
import type { CrashOptions, SimulatedClusterOptions, WithinOptions } from "./SimulatedClusterOptions.js"
import type { NodeStatus } from "./Slot.js"

export type { CrashOptions, SimulatedClusterOptions, WithinOptions } from "./SimulatedClusterOptions.js"

/**
 * A running simulated cluster. Controls and waits are Effects; every wait is bounded in virtual
 * time, ends at the first instant its condition holds, and fails with `SimulationTimeout` carrying
 * `dumpState`. Node ids given to any method must belong to the cluster (an unknown id is a
 * defect). Drive time from one fiber at a time.
 */
export interface SimulatedCluster<S> {
  readonly ids: ReadonlyArray<NodeId>
  readonly seed: number
  /** The effective Raft configuration of every node. */
  readonly config: RaftConfig
  /** The fabric, for its counters, trace and raw fault controls. */
  readonly loom: InMemoryLoomShape

  // ---- inspection

  /**
   * The node's current incarnation, gated by `pause` (calls that make it act wait until
   * `resume`). After a crash it is the closed incarnation: its calls fail with `NotLeader`.
   */
  readonly node: (id: string) => RaftNodeShape
  readonly status: (id: string) => NodeStatus
  /** 0 for the first start, +1 per restart. */
  readonly incarnation: (id: string) => number
  /** The node's disk (for `durableState()`, `pendingBatches`, or raw storage faults). */
  readonly disk: (id: string) => Disk
  /** The node's state machine now (a fresh state right after a restart, until it has replayed). */
  readonly appliedState: (id: string) => S
  /** The index the node's state machine has applied through; feed it to `awaitRead`. */
  readonly applied: (id: string) => Subscribable.Subscribable<number>
  /** The running node that leads at the highest term among running nodes, if exactly one does. */
  readonly leader: Effect.Effect<Option.Option<NodeId>>
  /** Running nodes other than that leader. */
  readonly followers: Effect.Effect<ReadonlyArray<NodeId>>
  /** Virtual time (ms). */
  readonly now: Effect.Effect<number>
  readonly elections: (id: string) => ElectionCounts
  /** The whole cluster as text (see `Dump.ts`); attached to every failure of this module. */
  readonly dumpState: (reason: string) => Effect.Effect<string>

  // ---- process faults

  /** Kills the process (closes its scope); the disk keeps what `options.lose` allows. No-op if crashed. */
  readonly crash: (id: string, options?: CrashOptions) => Effect.Effect<void>
  /**
   * Starts a new incarnation on the node's disk, with a fresh state machine that replays. Fails
   * with the node's start error (e.g. `CorruptDurableState`); a defect if the node is running.
   */
  readonly restart: (id: string) => Effect.Effect<void, RaftNodeStartError>
  /** Stops the process without killing it (see `NodeGate`): it keeps its state, frames queue up. */
  readonly pause: (id: string) => Effect.Effect<void>
  readonly resume: (id: string) => Effect.Effect<void>
  /** Makes every unflushed write of the node (of every node, without `id`) durable. */
  readonly flush: (id?: string) => Effect.Effect<void>

  // ---- network faults (silent, keyed by id: they survive crashes; `heal` removes them)

  /** Cuts every link between the groups, both ways; `b` defaults to every other node. */
  readonly partition: (a: Nodes, b?: Nodes) => Effect.Effect<void>
  /** Cuts the links from every node of `from` to every node of `to` (the other way still works). */
  readonly partitionOneWay: (from: Nodes, to: Nodes) => Effect.Effect<void>
  /** Cuts every link from and to `id`. */
  readonly isolate: (id: string) => Effect.Effect<void>
  /** `sideA` and `sideB` cannot talk to each other; both still reach `bridgeId` (a non-transitive network). */
  readonly bridge: (bridgeId: string, sideA: Nodes, sideB: Nodes) => Effect.Effect<void>
  /** Removes every partition (link conditions stay). */
  readonly heal: Effect.Effect<void>
  /** Conditions of every link without its own: latency, jitter, drop, duplicate, reorder. */
  readonly setNetwork: (conditions: NetworkSettings) => Effect.Effect<void>
  /** Conditions of the directed link `from` → `to`. */
  readonly setLink: (from: string, to: string, conditions: NetworkSettings) => Effect.Effect<void>
  /** Back to perfect links (partitions stay). */
  readonly resetNetwork: Effect.Effect<void>

  // ---- time

  /** Lets `ms` of virtual time pass. */
  readonly settle: (ms: number) => Effect.Effect<void>
  /**
   * Runs `effect` (forked) while virtual time passes, until it completes or `within` is spent
   * (then it is interrupted): for anything that needs time, e.g. `awaitRead(node, applied)`.
   */
  readonly drive: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: WithinOptions & { readonly what?: string }
  ) => Effect.Effect<A, E | SimulationTimeout, R>
  /** Waits until `condition` holds. */
  readonly awaitTrue: <E, R>(
    condition: Effect.Effect<boolean, E, R>,
    options: WithinOptions & { readonly what: string }
  ) => Effect.Effect<void, E | SimulationTimeout, R>
  /** Waits until one running node of `among` (default all) leads as `leader` defines it; returns it. */
  readonly awaitLeader: (
    options?: WithinOptions & { readonly among?: ReadonlyArray<string> }
  ) => Effect.Effect<NodeId, SimulationTimeout>
  readonly awaitRole: (id: string, role: RaftRole, options?: WithinOptions) => Effect.Effect<void, SimulationTimeout>
  /**
   * Waits until every node of `on` (default: the running ones) has committed AND applied `index`,
   * so `appliedState` can be compared right after.
   */
  readonly awaitCommit: (
    index: number,
    options?: WithinOptions & { readonly on?: ReadonlyArray<string> }
  ) => Effect.Effect<void, SimulationTimeout>
  /**
   * Waits until the running nodes agree: one leader, every one of them at its term following it,
   * the same commit index everywhere and every state machine applied through it. Returns the leader.
   */
  readonly awaitConverged: (options?: WithinOptions) => Effect.Effect<NodeId, SimulationTimeout>
  /**
   * Awaits a leader, proposes `command` there and waits for it to commit. Not retried: a
   * `LeadershipLost` proposal may still commit (retry with a `requestId` if that matters).
   */
  readonly proposeOnLeader: (
    command: Uint8Array,
    options?: WithinOptions
  ) => Effect.Effect<CommandEntry, SimulationTimeout | NotLeader | LeadershipLost | PayloadTooLarge>

  // ---- checks

  /**
   * Safety over the whole run and the running nodes now: at most one leader per term, every node
   * applied the same item at each index (across restarts too), no node commits beyond its stored
   * log or compacts beyond its commit, no state machine threw, no two running leaders share a term.
   */
  readonly checkInvariants: Effect.Effect<void, InvariantViolation>
  /**
   * Fails when more than `maxElections` elections (term-bumping campaigns, all nodes together)
   * started within any `windowMs` of virtual time (default: the whole run): the cluster thrashes.
   */
  readonly checkChurn: (
    options: { readonly maxElections: number; readonly windowMs?: number }
  ) => Effect.Effect<void, ChurnDetected>
}

/**
 * Starts a simulated cluster bound to the caller's `Scope` (closing it stops every node and the
 * loom). A bad option is a defect.
 *
 * Each node is a real `RaftNode` (`src/raft/RaftNode.ts`) with its own `Scope` (a crash closes
 * it), its own seeded `Random` per incarnation, an `InMemoryRaftStorage.Disk` that survives
 * restarts, and a `SeamRaftTransport` over the shared `InMemoryLoom`. With a `machine`, each node
 * feeds its committed log into its own copy of it.
 *
 * Time is virtual and moves only inside the cluster's waits (`settle`, `await*`, `drive`,
 * `proposeOnLeader`). The cluster installs its clock as the calling fiber's Clock for the rest of
 * the scope, and that clock also answers Effect's `TestClock` functions: in the test,
 * `Clock.currentTimeMillis` is the cluster's time, `Effect.sleep` sleeps on it (fork, then wait),
 * and `TestClock.adjust(d)` is `settle(d)`. It runs under `it.effect`/`it.scoped` or anywhere else;
 * a virtual second of a 3-node cluster costs a few hundred wall milliseconds.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { SimulatedCluster } from "kuilt/testing"
 *
 * // The user's state machine: a counter that adds each command's first byte.
 * const counter = { make: () => 0, apply: (n: number, command: Uint8Array) => n + command[0]! }
 *
 * it.scoped("the counter survives a leader crash", () =>
 *   Effect.gen(function*() {
 *     const cluster = yield* SimulatedCluster.make({ size: 3, seed: 7, machine: counter })
 *     const leader = yield* cluster.awaitLeader()
 *     yield* cluster.proposeOnLeader(Uint8Array.of(2))
 *     yield* cluster.crash(leader)
 *     const entry = yield* cluster.proposeOnLeader(Uint8Array.of(3)) // the other two elect, then commit
 *     yield* cluster.restart(leader)
 *     yield* cluster.awaitCommit(entry.index, { on: cluster.ids })
 *     for (const id of cluster.ids) expect(cluster.appliedState(id)).toBe(5)
 *     yield* cluster.checkInvariants
 *     yield* cluster.checkChurn({ maxElections: 3 })
 *   }))
 * ```
 *
 * Every wait fails with `SimulationTimeout`, whose message is the cluster dump; the checks fail
 * with `InvariantViolation` and `ChurnDetected`, dump included.
 */
const make: <S = undefined>(options: SimulatedClusterOptions<S>) => Effect.Effect<SimulatedCluster<S>, never, Scope.Scope> =
  makeCluster

/** Constructors of the simulated cluster; `defaults` is the Raft timing it uses unless overridden. */
export const SimulatedCluster = { make, defaults: SIMULATION_RAFT_CONFIG } as const
