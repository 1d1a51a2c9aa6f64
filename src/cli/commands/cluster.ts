/**
 * `kuilt cluster`: m voters in this process on SQLite files under `--data-dir` (or in memory),
 * the HTTP API and the dashboard on one port. What `npm start` runs. Ctrl-C stops every node
 * (each closes its file); starting again on the same directory resumes from the files.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Config, Console, Effect, Option, Stream } from "effect"
import { resolve } from "node:path"
import * as Dashboard from "../../dashboard/Dashboard.js"
import { classifyStorageFailure, CliError, ExitCode, usage } from "../errors.js"
import * as LocalCluster from "../host/LocalCluster.js"
import * as O from "../options.js"

const voters = Options.integer("voters").pipe(
  Options.withAlias("m"),
  Options.withDescription("Voters to run, 1 to 9 (ignored when the data directory already holds a cluster). Env KUILT_VOTERS."),
  Options.withFallbackConfig(Config.integer("KUILT_VOTERS")),
  Options.withDefault(3)
)

/** Where the process listens and what it runs, printed once it is up. */
export const banner = (c: LocalCluster.LocalClusterShape, url: string): string => {
  const where = c.dataDir === undefined ? "in memory (nothing survives a restart)" : `on SQLite in ${c.dataDir}`
  const endpoint = url.replace(/^http:\/\//, "").replace(/\/$/, "")
  return [
    `kuilt cluster: ${c.founders.length} voter${c.founders.length === 1 ? "" : "s"} (${c.founders.join(", ")}) ${where}`,
    `dashboard: ${url}`,
    `endpoint:  ${endpoint}   (try: kuilt put -e ${endpoint} hello world)`,
    "Ctrl-C stops the cluster."
  ].join("\n")
}

export const command = Command.make(
  "cluster",
  {
    voters,
    dataDir: O.dataDir,
    inMemory: O.inMemory,
    host: O.host,
    port: O.port,
    snapshotEvery: O.snapshotEvery
  },
  (o) =>
    Effect.gen(function*() {
      if (o.voters < 1 || o.voters > 9) return yield* usage(`--voters must be between 1 and 9, got ${o.voters}`)
      if (o.snapshotEvery < 1) return yield* usage(`--snapshot-every must be at least 1, got ${o.snapshotEvery}`)
      const dir = o.inMemory ? undefined : resolve(o.dataDir)
      if (dir !== undefined) {
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory(dir, { recursive: true }).pipe(
          Effect.mapError((e) => classifyStorageFailure(e.message, dir))
        )
      }
      const ids = Array.from({ length: o.voters }, (_, i) => `n${i + 1}`)
      const cluster = yield* LocalCluster.make({ voters: ids, dataDir: dir, snapshotEvery: o.snapshotEvery }).pipe(
        Effect.mapError((e) => classifyStorageFailure(e.message, dir ?? "memory"))
      )
      const app = yield* Dashboard.make(cluster)
      const listening = yield* Dashboard.serve(app, { host: o.host, port: o.port }).pipe(
        Effect.mapError((reason) =>
          new CliError({
            code: ExitCode.Failed,
            message: /EADDRINUSE/.test(reason) ? `port ${o.port} on ${o.host} is in use: pick another with --port` : reason
          })
        )
      )
      yield* Console.log(banner(cluster, listening.url))
      yield* Effect.addFinalizer(() => Console.log(dir === undefined ? "kuilt cluster stopped." : `kuilt cluster stopped; its data stays in ${dir}`))
      // Report the first leader, then run until interrupted (Ctrl-C closes the scope).
      yield* Effect.raceAll((yield* cluster.nodes).flatMap((n) =>
        n.kv === undefined ? [] : [n.kv.raft.leader.changes.pipe(Stream.filter(Option.isSome), Stream.map((l) => l.value), Stream.runHead)]
      )).pipe(
        Effect.flatMap((l) => Option.isSome(l) ? Console.log(`leader: ${l.value}`) : Effect.void),
        Effect.timeout("30 seconds"),
        Effect.ignore
      )
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Run m voters in this process on SQLite files, with the HTTP API and the live dashboard (what `npm start` runs)."))
