/**
 * A cluster of processes for one phase or trial: a host process and one process per Raft node
 * (voters, and learners when a benchmark lists some), each in the caller's scope. Nodes join the
 * host's room `room`; SQLite nodes keep their files in `dataDir`.
 */
import { Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import { ChildError, spawnChild } from "./children.js"
import type { Child } from "./children.js"
import type { HostInfo } from "./fabric.js"
import type { NodeArgs, NodeStatus, StorageKind } from "./nodeChild.js"

export const VOTERS: ReadonlyArray<string> = ["n1", "n2", "n3"]

export interface ClusterOptions {
  readonly storage: StorageKind
  readonly dataDir: string
  readonly room: string
  readonly voters?: ReadonlyArray<string>
  /** Learner node ids (each its own process, like a voter). */
  readonly learners?: ReadonlyArray<string>
  readonly compactEveryMs: number
  /** A host process to join instead of starting one (trials share one host, a room each). */
  readonly host?: Child
  /** Node flags for a process, by name (`host`, or a node id): e.g. `--cpu-prof`. */
  readonly nodeFlags?: (name: string) => ReadonlyArray<string>
}

export interface Cluster {
  readonly host: Child
  readonly hostInfo: HostInfo
  /** Node processes by node id. */
  readonly nodes: ReadonlyMap<string, Child>
  readonly voters: ReadonlyArray<string>
  /** Every live node's status. */
  readonly statuses: Effect.Effect<ReadonlyArray<NodeStatus>, ChildError>
  /**
   * Waits until one live voter leads and every live voter names it (at most `timeout`); fails
   * with the last statuses seen.
   */
  readonly awaitLeader: (timeout?: Duration.DurationInput) => Effect.Effect<string, ChildError>
}

export const startCluster = (options: ClusterOptions): Effect.Effect<Cluster, ChildError, Scope.Scope> =>
  Effect.gen(function*() {
    const voters = options.voters ?? VOTERS
    const learners = options.learners ?? []
    const flags = options.nodeFlags ?? (() => [])
    const host = options.host ?? (yield* spawnChild("host", "./hostChild.ts", null, { nodeFlags: flags("host") }))
    const hostInfo = host.info as HostInfo
    const started = yield* Effect.forEach([...voters, ...learners], (id) => {
      const args: NodeArgs = {
        host: hostInfo,
        room: options.room,
        id,
        voters,
        learners,
        storage: options.storage,
        dataDir: options.dataDir,
        compactEveryMs: options.compactEveryMs
      }
      return Effect.map(spawnChild(id, "./nodeChild.ts", args, { nodeFlags: flags(id) }), (child) => [id, child] as const)
    }, { concurrency: "unbounded" })
    const nodes = new Map(started)

    const statuses = Effect.forEach(
      [...nodes.values()].filter((c) => c.isAlive()),
      (c) => c.request<NodeStatus>("status", null, Duration.seconds(30)),
      { concurrency: "unbounded" }
    )
    const awaitLeader = (timeout: Duration.DurationInput = Duration.seconds(30)) => {
      let last: ReadonlyArray<NodeStatus> = []
      const agreed = Effect.flatMap(statuses, (all) => {
        last = all
        const live = all.filter((s) => voters.includes(s.id))
        const leaders = live.filter((s) => s.role === "Leader")
        const leader = leaders.length === 1 ? leaders[0]!.id : undefined
        return leader !== undefined && live.every((s) => s.leader === leader)
          ? Effect.succeed(leader)
          : Effect.fail(new ChildError({ child: "cluster", reason: "no agreed leader yet" }))
      })
      return agreed.pipe(
        Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)), while: (e) => e.child === "cluster" }),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new ChildError({ child: "cluster", reason: `no agreed leader within ${Duration.format(timeout)}: ${JSON.stringify(last)}` })
        })
      )
    }
    return { host, hostInfo, nodes, voters, statuses, awaitLeader } satisfies Cluster
  })
