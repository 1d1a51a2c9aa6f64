/**
 * One cluster server in its own process: `serverCluster` running one voter on SQLite, linked to
 * the others by address, serving clients on its port. Written as an operator would: options in,
 * `start`, and nothing else.
 *
 * Argument (JSON): `{ id, voters: [{ id, url }], port, dir, secret, quiet?, learnerGraceMs?, raft? }`. Prints
 * `listening <port>`, `leader <id|none>` and `role <role>` on changes, and (unless `quiet`)
 * `committed <index> <command> <clientId> <requestId>` for every committed command. Commands on
 * stdin: `health` → `health <json>`; `applied` → `applied <json [[index, command, clientId, requestId], …]>`.
 * Exits when stdin closes.
 */
import { Duration, Effect, Exit, Option, Scope, Stream } from "effect"
import { createInterface } from "node:readline"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { serverCluster } from "../../../src/cluster/node/serverCluster.js"

const config = JSON.parse(process.argv[2]!) as {
  readonly id: string
  readonly voters: ReadonlyArray<{ readonly id: string; readonly url: string }>
  readonly port: number
  readonly dir: string
  readonly secret: string
  readonly quiet?: boolean
  readonly learnerGraceMs?: number
  readonly raft?: Partial<RaftConfig>
}
const print = (line: string) => process.stdout.write(line + "\n")
const decoder = new TextDecoder()

const main = Effect.gen(function*() {
  const cluster = yield* serverCluster({
    voters: config.voters,
    self: config.id,
    secret: config.secret,
    dataDir: config.dir,
    port: config.port,
    ...(config.raft === undefined ? {} : { raft: config.raft }),
    ...(config.learnerGraceMs === undefined ? {} : { learnerGrace: Duration.millis(config.learnerGraceMs) })
  })
  yield* cluster.start
  print(`listening ${cluster.port}`)
  const node = cluster.nodes.get(cluster.server)!
  yield* Effect.forkScoped(Stream.runForEach(Stream.changes(cluster.leader.changes), (l) => Effect.sync(() => print(`leader ${Option.getOrElse(l, () => "none")}`))))
  yield* Effect.forkScoped(Stream.runForEach(Stream.changes(node.role.changes), (r) => Effect.sync(() => print(`role ${r}`))))
  const applied: Array<readonly [number, string, string, number]> = []
  yield* Effect.forkScoped(Stream.runForEach(cluster.committedFrom(1), (c) =>
    Effect.sync(() => {
      if (c._tag !== "Entry") return
      const row = [c.entry.index, decoder.decode(c.entry.command), c.entry.dedupKey.clientId, c.entry.dedupKey.requestId] as const
      applied.push(row)
      if (!config.quiet) print(`committed ${row.join(" ")}`)
    })))
  const lines = createInterface({ input: process.stdin })
  yield* Effect.async<void>((resume) => {
    lines.on("line", (line) => {
      if (line === "health") Effect.runFork(Effect.map(cluster.health, (h) => print(`health ${JSON.stringify(h)}`)))
      if (line === "applied") print(`applied ${JSON.stringify(applied)}`)
    })
    lines.on("close", () => resume(Effect.void))
  })
})

const scope = Effect.runSync(Scope.make())
Effect.runPromiseExit(Scope.extend(main, scope)).then(async (exit) => {
  if (Exit.isFailure(exit)) process.stderr.write(`server ${config.id} failed: ${String(exit.cause)}\n`)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  process.exit(Exit.isFailure(exit) ? 1 : 0)
})
