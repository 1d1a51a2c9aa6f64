/**
 * Options shared by the `kuilt` subcommands. Each comes from its flag, else from its environment
 * variable (`KUILT_*`, read through Effect `Config`), else its default; `--help` names both.
 */
import { Options } from "@effect/cli"
import { Config } from "effect"

/** The servers a client command talks to: `host:port` or URLs, comma separated. */
export const endpoints = Options.text("endpoints").pipe(
  Options.withAlias("e"),
  Options.withDescription("Servers to talk to, comma separated (host:port or http://host:port); tried in turn. Env KUILT_ENDPOINTS."),
  Options.withFallbackConfig(Config.string("KUILT_ENDPOINTS")),
  Options.withDefault("127.0.0.1:7000")
)

/** How long a client command may take. */
export const timeout = Options.integer("timeout").pipe(
  Options.withDescription("Milliseconds a request may take, retries included. Env KUILT_TIMEOUT."),
  Options.withFallbackConfig(Config.integer("KUILT_TIMEOUT")),
  Options.withDefault(10_000)
)

/** Machine-readable output. */
export const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text."))

/** Where a server keeps its files. */
export const dataDir = Options.directory("data-dir").pipe(
  Options.withDescription("Directory of the SQLite files (created if missing). Env KUILT_DATA_DIR."),
  Options.withFallbackConfig(Config.string("KUILT_DATA_DIR")),
  Options.withDefault("kuilt-data")
)

/** Keep everything in memory (nothing survives the process). */
export const inMemory = Options.boolean("in-memory").pipe(
  Options.withDescription("Keep the Raft logs in memory instead of SQLite files (nothing survives a restart).")
)

/** Interface a server listens on. */
export const host = Options.text("host").pipe(
  Options.withDescription("Interface to listen on. Env KUILT_HOST."),
  Options.withFallbackConfig(Config.string("KUILT_HOST")),
  Options.withDefault("127.0.0.1")
)

/** Port a server listens on. */
export const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription("TCP port (0 picks a free one). Env KUILT_PORT."),
  Options.withFallbackConfig(Config.integer("KUILT_PORT")),
  Options.withDefault(7000)
)

/** Snapshot cadence of the key-value store. */
export const snapshotEvery = Options.integer("snapshot-every").pipe(
  Options.withDescription("Snapshot the key-value store every N applied log entries. Env KUILT_SNAPSHOT_EVERY."),
  Options.withFallbackConfig(Config.integer("KUILT_SNAPSHOT_EVERY")),
  Options.withDefault(1000)
)

/** The log level (also `--log-level`, built in). */
export const logLevel = Config.string("KUILT_LOG_LEVEL").pipe(Config.withDefault("info"))
