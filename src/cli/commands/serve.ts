/**
 * `kuilt serve`: one voter per process. The server listens on one port for everything — the HTTP
 * API, `/health`, `/metrics`, the dashboard and the Raft mesh (`/kuilt`, a WebSocket relay) — and
 * keeps its log in a SQLite file under `--data-dir` (`node-<id>.sqlite`), so a restart resumes.
 *
 *   kuilt serve --id n1 --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003
 *
 * Every server gets the same `--peers` list (the founding voters); its own entry gives its port.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Config, Console, Effect, Either } from "effect"
import { resolve } from "node:path"
import * as Dashboard from "../../dashboard/Dashboard.js"
import { normalizeEndpoint } from "../client/ApiClient.js"
import { classifyStorageFailure, CliError, ExitCode, usage } from "../errors.js"
import * as MeshTransport from "../host/MeshTransport.js"
import type { MeshPeer } from "../host/MeshTransport.js"
import * as ServeHost from "../host/ServeHost.js"
import * as O from "../options.js"

const id = Options.text("id").pipe(
  Options.withDescription("This server's node id (one of --peers). Env KUILT_ID."),
  Options.withFallbackConfig(Config.string("KUILT_ID"))
)

const peers = Options.text("peers").pipe(
  Options.withDescription("Every server of the cluster as id=host:port, comma separated, this one included (the founding voters). Env KUILT_PEERS."),
  Options.withFallbackConfig(Config.string("KUILT_PEERS"))
)

const allowFaults = Options.boolean("allow-faults").pipe(
  Options.withDescription("Enable the fault controls of the API and dashboard (kill this process, isolate, cut, heal). For local and test clusters only.")
)

/** Parses `id=host:port,...`; a usage error names the bad part. */
export const parsePeers = (raw: string): Either.Either<ReadonlyArray<MeshPeer>, CliError> => {
  const out: Array<MeshPeer> = []
  for (const part of raw.split(",").map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf("=")
    const pid = eq <= 0 ? "" : part.slice(0, eq).trim()
    if (pid === "") return Either.left(usage(`--peers: expected id=host:port, got ${part}`))
    try {
      out.push({ id: pid, url: normalizeEndpoint(part.slice(eq + 1)) })
    } catch {
      return Either.left(usage(`--peers: not an endpoint: ${part.slice(eq + 1)}`))
    }
  }
  if (out.length === 0) return Either.left(usage("--peers: no server given"))
  if (new Set(out.map((p) => p.id)).size !== out.length) return Either.left(usage(`--peers: duplicate node ids in ${raw}`))
  return Either.right(out)
}

export const command = Command.make(
  "serve",
  { id, peers, dataDir: O.dataDir, inMemory: O.inMemory, allowFaults, snapshotEvery: O.snapshotEvery },
  (o) =>
    Effect.gen(function*() {
      const parsed = parsePeers(o.peers)
      if (Either.isLeft(parsed)) return yield* parsed.left
      const self = parsed.right.find((p) => p.id === o.id)
      if (self === undefined) return yield* usage(`--id ${o.id} is not in --peers (${parsed.right.map((p) => p.id).join(", ")})`)
      if (o.snapshotEvery < 1) return yield* usage(`--snapshot-every must be at least 1, got ${o.snapshotEvery}`)
      const url = new URL(self.url)
      const hostname = url.hostname.replace(/^\[|\]$/g, "")
      const port = Number(url.port || 80)
      const dir = o.inMemory ? undefined : resolve(o.dataDir)
      if (dir !== undefined) {
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError((e) => classifyStorageFailure(e.message, dir)))
      }
      const host = yield* ServeHost.make({
        self,
        peers: parsed.right,
        dataDir: dir,
        allowFaults: o.allowFaults,
        snapshotEvery: o.snapshotEvery
      }).pipe(Effect.mapError((reason) => classifyStorageFailure(reason, dir ?? "memory")))
      const dashboard = yield* Dashboard.make(host)
      const relay = host.mesh.relay.app
      const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        request.url.split("?")[0] === MeshTransport.RELAY_PATH ? relay : dashboard
      ).pipe(Effect.catchAllCause(() => Effect.succeed(HttpServerResponse.empty({ status: 500 }))))
      const listening = yield* Dashboard.serve(app, { host: hostname, port }).pipe(
        Effect.mapError((reason) =>
          new CliError({
            code: ExitCode.Failed,
            message: /EADDRINUSE/.test(reason) ? `port ${port} on ${hostname} is in use (see --peers)` : reason
          })
        )
      )
      yield* host.start.pipe(Effect.mapError((reason) => new CliError({ code: ExitCode.Failed, message: reason })))
      yield* Console.log(`kuilt serve: ${self.id} of ${parsed.right.map((p) => p.id).join(", ")} ${dir === undefined ? "in memory" : `on SQLite in ${dir}`}`)
      yield* Console.log(`listening: ${listening.url} (API, dashboard, /health, /metrics; Raft mesh at ${MeshTransport.RELAY_PATH})`)
      yield* Effect.addFinalizer(() => Console.log(`kuilt serve: ${self.id} stopped`))
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Run one voter in this process (SQLite under --data-dir), with the HTTP API, dashboard, /health and /metrics on its port."))
