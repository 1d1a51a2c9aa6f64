/**
 * `kuilt up`: a local cluster of m `kuilt serve` processes (what `npm start` runs). It picks the
 * ports (`--port`, `--port`+1, ...), starts one server per voter with `--allow-faults` on SQLite
 * files under `--data-dir`, prints the dashboard URL of each, and follows them: a server that
 * exits (killed from the dashboard, crashed) is reported and stays down until `--restart-after`
 * passes (0: never restarted), when it comes back on its file. Ctrl-C (SIGINT/SIGTERM) stops every
 * server with SIGTERM (each closes its file) and exits; starting again resumes from the files.
 */
import { Command, Options } from "@effect/cli"
import { Config, Console, Duration, Effect, Fiber } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { resolve } from "node:path"
import { usage } from "../errors.js"
import * as O from "../options.js"

const voters = Options.integer("voters").pipe(
  Options.withAlias("m"),
  Options.withDescription("Servers (voters) to run, 1 to 9. Env KUILT_VOTERS."),
  Options.withFallbackConfig(Config.integer("KUILT_VOTERS")),
  Options.withDefault(3)
)

const basePort = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription("Port of the first server; the others take the next ones. Env KUILT_PORT."),
  Options.withFallbackConfig(Config.integer("KUILT_PORT")),
  Options.withDefault(7001)
)

const restartAfter = Options.integer("restart-after").pipe(
  Options.withDescription("Seconds after which a server that exited is started again on its file (0: never). Env KUILT_RESTART_AFTER."),
  Options.withFallbackConfig(Config.integer("KUILT_RESTART_AFTER")),
  Options.withDefault(0)
)

/** How this process was started (node flags such as tsx's loader, then the script): children run the same way. */
const self = (): ReadonlyArray<string> => [...process.execArgv, process.argv[1]!]

export const command = Command.make(
  "up",
  { voters, port: basePort, host: O.host, dataDir: O.dataDir, inMemory: O.inMemory, restartAfter },
  (o) =>
    Effect.gen(function*() {
      if (o.voters < 1 || o.voters > 9) return yield* usage(`--voters must be between 1 and 9, got ${o.voters}`)
      if (o.port < 1 || o.port + o.voters - 1 > 65535) return yield* usage(`--port must leave room for ${o.voters} ports, got ${o.port}`)
      const dir = resolve(o.dataDir)
      const shown = o.host.includes(":") ? `[${o.host}]` : o.host
      const servers = Array.from({ length: o.voters }, (_, i) => ({ id: `n${i + 1}`, endpoint: `${shown}:${o.port + i}` }))
      const peers = servers.map((s) => `${s.id}=${s.endpoint}`).join(",")
      const children = new Map<string, ChildProcess>()
      let stopping = false

      const start = (id: string): void => {
        const args = [...self(), "serve", "--id", id, "--peers", peers, "--data-dir", dir, "--allow-faults", ...(o.inMemory ? ["--in-memory"] : [])]
        const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
        children.set(id, child)
        const prefix = (chunk: Buffer | string) =>
          String(chunk).split("\n").filter((l) => l.length > 0).map((l) => `[${id}] ${l}\n`).join("")
        child.stdout!.on("data", (c) => process.stdout.write(prefix(c)))
        child.stderr!.on("data", (c) => process.stderr.write(prefix(c)))
        child.on("exit", (code, signal) => {
          if (children.get(id) === child) children.delete(id)
          if (stopping) return
          process.stdout.write(`[up] ${id} exited (${signal ?? `code ${code}`})${o.restartAfter > 0 ? `; restarting in ${o.restartAfter} s` : ""}\n`)
          if (o.restartAfter > 0) setTimeout(() => stopping || children.has(id) || start(id), o.restartAfter * 1000)
        })
      }

      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          stopping = true
          const running = [...children.values()]
          for (const c of running) c.kill("SIGTERM")
          // Each server closes its file on SIGTERM; wait for them (bounded: then SIGKILL).
          const waitAll = Effect.forEach(running, (c) =>
            Effect.async<void>((done) => {
              if (c.exitCode !== null || c.signalCode !== null) return done(Effect.void)
              c.once("exit", () => done(Effect.void))
            }), { discard: true })
          yield* waitAll.pipe(
            Effect.timeout(Duration.seconds(10)),
            Effect.catchAll(() => Effect.sync(() => running.forEach((c) => c.kill("SIGKILL"))))
          )
          yield* Console.log(`kuilt up: stopped; the data stays in ${dir}`)
        })
      )
      for (const s of servers) start(s.id)
      yield* Console.log(
        [
          `kuilt up: ${o.voters} kuilt serve processes (${servers.map((s) => s.id).join(", ")}) on SQLite in ${dir}`,
          `dashboard: http://${servers[0]!.endpoint}/   (every server serves it: ${servers.map((s) => `http://${s.endpoint}/`).join(" ")})`,
          `endpoints: ${servers.map((s) => s.endpoint).join(",")}`,
          `try:       kuilt put -e ${servers.map((s) => s.endpoint).join(",")} hello world`,
          "Ctrl-C stops the cluster."
        ].join("\n")
      )
      const forever = yield* Effect.fork(Effect.never)
      return yield* Fiber.join(forever)
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Run a local cluster of m `kuilt serve` processes with the live dashboard (what `npm start` runs)."))
