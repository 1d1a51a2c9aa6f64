/**
 * One process of the example: an @effect/cluster runner that is also a voter of the Raft group
 * holding the cluster's runner registrations and shard locks (`RaftRunnerStorage`), with its Raft
 * log in a SQLite file. Run three (and a relay, `relay.ts`):
 *
 *   npx tsx examples/effect-cluster/relay.ts 4000
 *   npx tsx examples/effect-cluster/runner.ts --id n1 --port 34001 --relay ws://127.0.0.1:4000/kuilt --data /tmp/ec
 *   (and n2 on 34002, n3 on 34003)
 *
 * Every runner hosts `Greeter` entities and, twice a second, asks entities e0..e11 where they
 * live, printing one JSON line per round: `{"round":n,"by":"n1","answers":{"e0":"n2",...},"failed":[...]}`.
 * Kill one runner: after its shard locks expire (4 s of the table's clock) the others take its
 * shards and every entity answers again.
 */
import { MessageStorage, ShardingConfig } from "@effect/cluster"
import { NodeClusterSocket } from "@effect/platform-node"
import { Clock, Duration, Effect, Layer, Option, Schedule } from "effect"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import { ClusterConfig, RaftNode, Seam, SeamRaftTransport, WebSocketLoom } from "kuilt"
import { RaftRunnerStorage } from "kuilt/effect-cluster"
import { SqlRaftStorage, WebSocketConstructorNode } from "kuilt/node"
import { join } from "node:path"
import * as Greeter from "./Greeter.js"

const arg = (name: string, fallback?: string): string => {
  const at = process.argv.indexOf(`--${name}`)
  const value = at >= 0 ? process.argv[at + 1] : fallback
  if (value === undefined) throw new Error(`missing --${name}`)
  return value
}
const id = arg("id")
const port = Number(arg("port"))
const relay = arg("relay")
const data = arg("data")
const voters = arg("voters", "n1,n2,n3").split(",")
const entities = Array.from({ length: Number(arg("entities", "12")) }, (_, k) => `e${k}`)

/** Short lock timings so a dead runner's shards move within seconds (defaults: 10 s / 35 s). */
const sharding: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)),
  shardsPerGroup: 12,
  shardLockRefreshInterval: Duration.seconds(1),
  shardLockExpiration: Duration.seconds(4),
  runnerHealthCheckInterval: Duration.seconds(1),
  refreshAssignmentsInterval: Duration.millis(500),
  entityMessagePollInterval: Duration.seconds(1),
  sendRetryInterval: Duration.millis(100)
}

/** This process's Raft voter: a seam in the relay's room, its log in a SQLite file. */
const RaftLive = Layer.unwrapScoped(Effect.gen(function*() {
  const room = yield* WebSocketLoom.join({ url: relay, room: "runners", peerId: id, displayName: id })
  return RaftNode.layer({ cluster: ClusterConfig.ofVoters(...voters) }).pipe(
    Layer.provide(SeamRaftTransport.layer),
    Layer.provide(Layer.succeed(Seam, room.seam)),
    Layer.provide(SqlRaftStorage.layerSqlite({ filename: join(data, `${id}.sqlite`) }))
  )
})).pipe(Layer.provide(WebSocketConstructorNode))

/** The @effect/cluster runner, with its runner storage in the Raft group and messages in memory. */
const ClusterLive = NodeClusterSocket.layer({ storage: "byo", shardingConfig: sharding }).pipe(
  Layer.provide(RaftRunnerStorage.layer()),
  Layer.provide(MessageStorage.layerNoop),
  Layer.provide(ShardingConfig.layer(sharding)),
  Layer.provide(RaftLive)
)

/** Asks every entity where it lives, twice a second, and prints the round. */
const ask = Effect.gen(function*() {
  const client = yield* Greeter.Greeter.client
  let round = 0
  yield* Effect.gen(function*() {
    round += 1
    const answers: Record<string, string> = {}
    const failed: Array<string> = []
    yield* Effect.forEach(entities, (entity) =>
      client(entity).Where().pipe(
        Effect.timeout(Duration.seconds(2)),
        Effect.match({
          onSuccess: (a) => void (answers[entity] = a.servedBy),
          onFailure: () => void failed.push(entity)
        })
      ), { concurrency: "unbounded", discard: true })
    console.log(JSON.stringify({ round, by: id, at: yield* Clock.currentTimeMillis, answers, failed }))
  }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(500))))
})

console.log(JSON.stringify({ started: id, pid: process.pid, port }))
Layer.launch(Layer.mergeAll(Greeter.layer(id), Layer.scopedDiscard(Effect.forkScoped(ask))).pipe(Layer.provideMerge(ClusterLive))).pipe(
  Effect.runPromise
)
