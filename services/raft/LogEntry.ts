/**
 * The replicated log's entries and what the consumer receives when they commit.
 *
 * A log entry is one of three kinds (a tagged union, not flags): an application `Command`
 * (always carrying the proposer's `DedupKey`), the `NoOp` a new leader appends (§5.4.2, thesis
 * §6.4), or a `Config` entry carrying a membership change (§6).
 */
import { Data, Schema } from "effect"
import { ConfigPayload } from "./ClusterConfig.js"
import { DedupKey } from "./ClientId.js"

/** Log indices and terms: non-negative safe integers. */
export const Index = Schema.Number.pipe(Schema.int(), Schema.between(0, Number.MAX_SAFE_INTEGER))
/** A Raft term (§5.1): a non-negative safe integer. */
export const Term = Index

/** An application command in the log, with the proposer's dedup key (exactly-once apply). */
export const CommandEntry = Schema.TaggedStruct("Command", {
  index: Index,
  term: Term,
  command: Schema.Uint8ArrayFromSelf,
  dedupKey: DedupKey
})
export type CommandEntry = typeof CommandEntry.Type

/** The entry a new leader appends to commit entries of earlier terms (§5.4.2). */
export const NoOpEntry = Schema.TaggedStruct("NoOp", { index: Index, term: Term })
export type NoOpEntry = typeof NoOpEntry.Type

/** A membership change in the log (§6): takes effect when appended, not when committed. */
export const ConfigEntry = Schema.TaggedStruct("Config", { index: Index, term: Term, config: ConfigPayload })
export type ConfigEntry = typeof ConfigEntry.Type

/** One entry of the replicated log: a command, a no-op or a configuration. */
export const LogEntry = Schema.Union(CommandEntry, NoOpEntry, ConfigEntry)
export type LogEntry = typeof LogEntry.Type

/** A consumer-published snapshot: its state machine's bytes covering every index ≤ `throughIndex`. */
export const Snapshot = Schema.Struct({
  throughIndex: Index,
  state: Schema.Uint8ArrayFromSelf
})
export type Snapshot = typeof Snapshot.Type

/**
 * One ordered instruction for the consumer's state machine. `Entry`: apply the command.
 * `Internal`: an index Raft used for itself (no-op or config) — fold it into the applied index
 * or `readIndex` fences stall. `Install`: replace the state with the snapshot.
 */
export type Committed = Data.TaggedEnum<{
  Entry: { readonly entry: CommandEntry }
  Internal: { readonly index: number }
  Install: { readonly snapshot: Snapshot }
}>
export const Committed = Data.taggedEnum<Committed>()

/** The index a committed item brings the applied index to. */
export const committedIndex = (c: Committed): number => {
  switch (c._tag) {
    case "Entry":
      return c.entry.index
    case "Internal":
      return c.index
    case "Install":
      return c.snapshot.throughIndex
  }
}

/** The single withholding rule: no-op and config entries reach the consumer as `Internal`. */
export const asCommitted = (entry: LogEntry): Committed => {
  switch (entry._tag) {
    case "Command":
      return Committed.Entry({ entry })
    case "NoOp":
    case "Config":
      return Committed.Internal({ index: entry.index })
  }
}
