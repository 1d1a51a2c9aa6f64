/**
 * A `RunnerStorage` for `@effect/cluster` kept in a kuilt Raft group: runner registration, machine
 * ids and shard locks with leases, agreed by the group's voters instead of a SQL server. Three
 * nodes with SQLite files (or edge devices, or browser tabs) can run `@effect/cluster` sharding
 * with no database server; the runners themselves can be the Raft voters.
 *
 * What it is for: coordination. Every operation is one Raft commit (or one read fence), a few per
 * runner per lock-refresh interval plus one clock tick a second: small, durable, linearizable.
 * It is not a message store: keep `@effect/cluster`'s `MessageStorage` in memory or SQL.
 *
 * How: operations are proposed as commands (`RunnerCommand.ts`) and applied by every node to its
 * copy of the table (`RunnerTableReplica.ts`); a write answers once this node has applied its
 * entry, a read (`getRunners`) once this node has applied through a read fence (thesis §6.4).
 * Lock and heartbeat expiry use the table's own clock, advanced by the leader (`LeaderClock.ts`).
 * Every operation is idempotent, so a proposal whose outcome is unknown (`LeadershipLost`) is
 * proposed again; failures and timeouts surface as `PersistenceError`, as with the SQL storage.
 */
import { PersistenceError } from "@effect/cluster/ClusterError"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import { ShardingConfig } from "@effect/cluster/ShardingConfig"
import { Data, Duration, Effect, Layer, Schedule } from "effect"
import type { Scope } from "effect"
import type { DurationInput } from "effect/Duration"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import { awaitRead } from "../raft/awaitRead.js"
import { RaftNode } from "../raft/RaftNode.js"
import * as LeaderClock from "./LeaderClock.js"
import { encodeCommand } from "./RunnerCommand.js"
import type { RunnerCommand } from "./RunnerCommand.js"
import type { RunnerTable } from "./RunnerTable.js"
import * as RunnerTableReplica from "./RunnerTableReplica.js"

/** Options of `RaftRunnerStorage.make`/`layer`: tick period of the table clock, operation bound, snapshot cadence. */
export interface RaftRunnerStorageOptions {
  /**
   * How often the leader advances the table's clock. Default: a tenth of
   * `ShardingConfig.shardLockExpiration`, at most one second. Expiry is judged to this resolution.
   */
  readonly tickInterval?: DurationInput
  /** Bound on one operation (commit or read); past it the operation fails with `PersistenceError`. Default 5 s. */
  readonly operationTimeout?: DurationInput
  /** Entries applied between two snapshots of the table (default 1000). */
  readonly snapshotEvery?: number
}

/** Why an operation did not complete: the wrapped cause of the `PersistenceError` it fails with. */
export class RunnerStorageUnavailable extends Data.TaggedError("RunnerStorageUnavailable")<{
  readonly operation: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return `the Raft runner storage could not ${this.operation}: ${this.reason}`
  }
}

const retryLostLeadership = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.retry(effect, { while: (e) => e._tag === "LeadershipLost", schedule: Schedule.spaced(Duration.millis(20)) })

/**
 * A `RunnerStorage` over `node`, with lock and heartbeat expiry from `ShardingConfig`. Starts the
 * replica and the leader clock in the current scope. Operations fail with `PersistenceError` when
 * they cannot complete within `operationTimeout` (no quorum, node closed) or the node refuses them.
 */
export const makeWith = (
  node: RaftNodeShape,
  options: RaftRunnerStorageOptions = {}
): Effect.Effect<RunnerStorage.RunnerStorage["Type"], never, ShardingConfig | Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* ShardingConfig
    const expirationMs = Duration.toMillis(config.shardLockExpiration)
    const tickInterval = options.tickInterval === undefined
      ? Duration.min(Duration.seconds(1), Duration.millis(Math.max(10, Math.floor(expirationMs / 10))))
      : Duration.decode(options.tickInterval)
    const timeout = Duration.decode(options.operationTimeout ?? Duration.seconds(5))
    const replica = yield* RunnerTableReplica.make(node, { snapshotEvery: options.snapshotEvery ?? 1000 })
    yield* Effect.forkScoped(LeaderClock.run(node, replica, tickInterval))

    const bounded = <A, E>(operation: string, effect: Effect.Effect<A, E>) =>
      effect.pipe(
        Effect.mapError((cause) => new RunnerStorageUnavailable({ operation, reason: String(cause), cause })),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new RunnerStorageUnavailable({ operation, reason: `no answer within ${Duration.format(timeout)}` })
        }),
        Effect.mapError((cause) => new PersistenceError({ cause }))
      )

    /** Commits `command`, then answers from this node's table once it has applied it. */
    const submit = <A>(operation: string, command: RunnerCommand, answer: (table: RunnerTable) => A) =>
      bounded(
        operation,
        retryLostLeadership(node.propose(encodeCommand(command))).pipe(
          Effect.tap((entry) => replica.awaitApplied(entry.index)),
          Effect.map(() => answer(replica.table()))
        )
      )

    /** Answers from this node's table once it has applied through a read fence. */
    const read = <A>(operation: string, answer: (table: RunnerTable) => A) =>
      bounded(operation, Effect.map(retryLostLeadership(awaitRead(node, replica.applied)), () => answer(replica.table())))

    return RunnerStorage.makeEncoded({
      getRunners: read("list the runners", (table) => table.liveRunners(expirationMs)),
      register: (address, runner, healthy) =>
        submit("register a runner", { _tag: "Register", address, runner, healthy, expirationMs }, (table) => table.machineId(address)).pipe(
          Effect.flatMap((id) =>
            id === undefined
              ? Effect.fail(new PersistenceError({ cause: new RunnerStorageUnavailable({ operation: "register a runner", reason: `${address} was unregistered meanwhile` }) }))
              : Effect.succeed(id)
          )
        ),
      unregister: (address) => submit("unregister a runner", { _tag: "Unregister", address, expirationMs }, () => undefined),
      setRunnerHealth: (address, healthy) =>
        submit("set a runner's health", { _tag: "SetHealth", address, healthy }, () => undefined),
      acquire: (address, shardIds) =>
        submit(
          "acquire shard locks",
          { _tag: "Acquire", address, shardIds, expirationMs },
          (table) => table.heldBy(address, shardIds, expirationMs)
        ),
      refresh: (address, shardIds) =>
        submit("refresh shard locks", { _tag: "Refresh", address, shardIds }, (table) => table.namedFor(address, shardIds)),
      release: (address, shardId) => submit("release a shard lock", { _tag: "Release", address, shardId }, () => undefined),
      releaseAll: (address) => submit("release a runner's shard locks", { _tag: "ReleaseAll", address }, () => undefined)
    })
  })

/** `makeWith` over the `RaftNode` in context. */
export const make = (
  options: RaftRunnerStorageOptions = {}
): Effect.Effect<RunnerStorage.RunnerStorage["Type"], never, RaftNode | ShardingConfig | Scope.Scope> =>
  Effect.flatMap(RaftNode, (node) => makeWith(node, options))

/**
 * `RunnerStorage` over the `RaftNode` in context, for `@effect/cluster` runners configured with
 * their own storage (e.g. `NodeClusterSocket.layer({ storage: "byo" })`). Needs `ShardingConfig`
 * (the same settings the runner uses) for the lock expiration.
 */
export const layer = (
  options: RaftRunnerStorageOptions = {}
): Layer.Layer<RunnerStorage.RunnerStorage, never, RaftNode | ShardingConfig> =>
  Layer.scoped(RunnerStorage.RunnerStorage, make(options))
