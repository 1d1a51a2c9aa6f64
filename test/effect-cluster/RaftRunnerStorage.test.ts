/**
 * `RaftRunnerStorage` on a three-node Raft group on virtual time (`SimulatedCluster`): one storage
 * per node, as when each @effect/cluster runner is a voter. What one runner's storage commits,
 * another's reads; locks expire on the table's clock, which only the leader advances, and survive a
 * leader crash; without a quorum every operation fails with `PersistenceError`.
 */
import * as Runner from "@effect/cluster/Runner"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type { RunnerStorage } from "@effect/cluster/RunnerStorage"
import * as ShardId from "@effect/cluster/ShardId"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { RaftRunnerStorage } from "kuilt/effect-cluster"
import { SimulatedCluster } from "kuilt/testing"

const EXPIRATION_MS = 3000
const config = ShardingConfig.layer({ shardLockExpiration: EXPIRATION_MS })

const address = (port: number) => RunnerAddress.make("127.0.0.1", port)
const runner = (port: number) => Runner.make({ address: address(port), groups: ["default"], weight: 1 })
const shard = (n: number) => ShardId.make("default", n)
const names = (shards: ReadonlyArray<ShardId.ShardId>) => shards.map((s) => s.toString()).sort()

/** A 3-node group and one storage per node (each on its node's committed log). */
const setup = (seed: number) =>
  Effect.gen(function*() {
    const cluster = yield* SimulatedCluster.make({ size: 3, seed })
    yield* cluster.awaitLeader()
    const storages = new Map<string, RunnerStorage["Type"]>()
    for (const id of cluster.ids) {
      storages.set(id, yield* RaftRunnerStorage.makeWith(cluster.node(id), { operationTimeout: "2 seconds" }).pipe(Effect.provide(config)))
    }
    const on = (id: string) => storages.get(id)!
    return { cluster, on }
  })

describe("RaftRunnerStorage", () => {
  it.scoped("registers runners with distinct, stable machine ids that every node then lists", () =>
    Effect.gen(function*() {
      const { cluster, on } = yield* setup(3)
      const [n1, n2, n3] = cluster.ids
      const a = yield* cluster.drive(on(n1!).register(runner(1), true))
      const b = yield* cluster.drive(on(n2!).register(runner(2), true))
      expect(a).not.toBe(b)
      expect(yield* cluster.drive(on(n3!).register(runner(1), true))).toBe(a)
      const listed = yield* cluster.drive(on(n3!).getRunners)
      expect(listed.map(([r, healthy]) => [r.address.port, healthy]).sort()).toEqual([[1, true], [2, true]])
      yield* cluster.drive(on(n2!).setRunnerHealth(address(2), false))
      yield* cluster.drive(on(n1!).unregister(address(1)))
      expect((yield* cluster.drive(on(n1!).getRunners)).map(([r, healthy]) => [r.address.port, healthy])).toEqual([[2, false]])
    }))

  it.scoped("a shard lock is held until released or expired on the leader's clock, then another runner takes it", () =>
    Effect.gen(function*() {
      const { cluster, on } = yield* setup(5)
      const [n1, n2] = cluster.ids
      expect(names(yield* cluster.drive(on(n1!).acquire(address(1), [shard(1), shard(2)])))).toEqual(["default:1", "default:2"])
      expect(names(yield* cluster.drive(on(n2!).acquire(address(2), [shard(2), shard(3)])))).toEqual(["default:3"])
      // Refreshed within the expiration, the locks stay with runner 1.
      yield* cluster.settle(EXPIRATION_MS / 2)
      expect(names(yield* cluster.drive(on(n1!).refresh(address(1), [shard(1), shard(2)])))).toEqual(["default:1", "default:2"])
      yield* cluster.settle(EXPIRATION_MS / 2)
      expect(yield* cluster.drive(on(n2!).acquire(address(2), [shard(2)]))).toEqual([])
      // Runner 1 releases one lock and stops refreshing: the released one is free at once, the
      // other once the table's clock passed the expiration (ticks come every 300 ms).
      yield* cluster.drive(on(n1!).release(address(1), shard(1)))
      expect(names(yield* cluster.drive(on(n2!).acquire(address(2), [shard(1)])))).toEqual(["default:1"])
      yield* cluster.settle(EXPIRATION_MS + 700)
      expect(names(yield* cluster.drive(on(n2!).acquire(address(2), [shard(2)])))).toEqual(["default:2"])
      // Runner 1 is told it lost it.
      expect(yield* cluster.drive(on(n1!).refresh(address(1), [shard(2)]))).toEqual([])
    }))

  it.scoped("locks outlive a leader crash: the new leader's clock goes on from the table's, not from zero", () =>
    Effect.gen(function*() {
      const { cluster, on } = yield* setup(8)
      const leader = yield* cluster.awaitLeader()
      const others = cluster.ids.filter((id) => id !== leader)
      yield* cluster.drive(on(leader).acquire(address(1), [shard(1)]))
      yield* cluster.settle(EXPIRATION_MS / 2)
      yield* cluster.crash(leader)
      yield* cluster.awaitLeader({ among: others })
      // Half the expiration has passed: still held for runner 1 ...
      expect(yield* cluster.drive(on(others[0]!).acquire(address(2), [shard(1)]))).toEqual([])
      // ... and free once the whole expiration has passed on the table's clock.
      yield* cluster.settle(EXPIRATION_MS)
      expect(names(yield* cluster.drive(on(others[1]!).acquire(address(2), [shard(1)])))).toEqual(["default:1"])
    }))

  it.scoped("without a quorum an operation fails with PersistenceError instead of hanging", () =>
    Effect.gen(function*() {
      const { cluster, on } = yield* setup(13)
      const [n1, n2, n3] = cluster.ids
      yield* cluster.drive(on(n1!).register(runner(1), true))
      yield* cluster.crash(n2!)
      yield* cluster.crash(n3!)
      const error = yield* cluster.drive(Effect.flip(on(n1!).acquire(address(1), [shard(1)])), { within: 10_000 })
      expect(error._tag).toBe("PersistenceError")
      const read = yield* cluster.drive(Effect.flip(on(n1!).getRunners), { within: 10_000 })
      expect(read._tag).toBe("PersistenceError")
    }))
})
