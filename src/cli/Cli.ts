/**
 * The `kuilt` command: its subcommands, and how a run ends — the exit code scripts can trust
 * (`errors.ts`) and one line on stderr for a failure (`kuilt: <message>`). Bad flags print
 * @effect/cli's message and exit 2. Ctrl-C (SIGINT) or SIGTERM interrupt the command: servers
 * close every node and file, then exit 0.
 *
 * The log level comes from `--log-level` (built in) or `KUILT_LOG_LEVEL` (default `info`).
 */
import { CliConfig, Command, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Config, Effect, Exit, Layer, Logger, LogLevel, Option } from "effect"
import * as cluster from "./commands/cluster.js"
import * as kv from "./commands/kv.js"
import * as members from "./commands/members.js"
import * as serve from "./commands/serve.js"
import * as status from "./commands/status.js"
import * as up from "./commands/up.js"
import { CliError, ExitCode } from "./errors.js"
import { logLevel } from "./options.js"

/** The package version (kept in step with package.json). */
export const VERSION = "0.1.0"

export const root = Command.make("kuilt").pipe(
  Command.withDescription(
    "Run and use a Raft cluster with a built-in key-value store. Servers: serve (one voter per process), up (a local cluster of serve processes: `npm start`), cluster (m voters in one process). " +
      "Clients (any server's endpoint): put, get, cas, del, watch, status, members, transfer. " +
      "Every option also reads KUILT_<NAME> from the environment; --log-level or KUILT_LOG_LEVEL sets the log level."
  ),
  Command.withSubcommands([
    serve.command,
    up.command,
    cluster.command,
    kv.put,
    kv.get,
    kv.cas,
    kv.del,
    kv.watch,
    status.command,
    members.members,
    members.transfer
  ])
)

const cli = Command.run(root, { name: "kuilt", version: VERSION })

const levelFrom = (name: string): LogLevel.LogLevel | undefined =>
  LogLevel.allLevels.find((l) => l.label.toLowerCase() === name.toLowerCase() || l._tag.toLowerCase() === name.toLowerCase())

/** Runs the command on `argv` (as `process.argv`), resolving to the exit code. Never fails. */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<ExitCode> =>
  Effect.gen(function*() {
    const level = levelFrom(yield* logLevel.pipe(Effect.orElseSucceed(() => "info"))) ?? LogLevel.Info
    const exit = yield* cli(argv).pipe(
      Logger.withMinimumLogLevel(level),
      Effect.provide(Layer.mergeAll(NodeContext.layer, CliConfig.layer({ showBuiltIns: false }), Logger.pretty)),
      Effect.exit
    )
    if (Exit.isSuccess(exit)) return ExitCode.Ok
    if (Cause.isInterruptedOnly(exit.cause)) return ExitCode.Ok
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) {
      const e = failure.value
      if (e instanceof CliError) {
        yield* Effect.sync(() => process.stderr.write(`kuilt: ${e.message}\n`))
        return e.code
      }
      // @effect/cli has printed the problem with the flags already.
      if (ValidationError.isValidationError(e)) return ExitCode.Usage
      yield* Effect.sync(() => process.stderr.write(`kuilt: ${String((e as { message?: unknown }).message ?? e)}\n`))
      return ExitCode.Failed
    }
    yield* Effect.sync(() => process.stderr.write(`kuilt: unexpected failure\n${Cause.pretty(exit.cause)}\n`))
    return ExitCode.Failed
  })

/** `KUILT_LOG_LEVEL` as a Config (exported for the README's list of variables). */
export const logLevelConfig: Config.Config<string> = logLevel
