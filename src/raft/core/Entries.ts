/**
 * The replicated log's entries, the membership they carry, and what the consumer receives when
 * they commit — as plain types and plain objects. The public Schemas (`services/raft/LogEntry.ts`,
 * `services/raft/ClusterConfig.ts`) describe exactly these types, so an entry the core appends is
 * the entry storage writes and the application reads, with no conversion
 * (test/raft/core/plain-types.test.ts checks the two stay identical).
 *
 * An entry is one of three kinds (a tagged union, not flags): an application `Command` (always
 * carrying the proposer's `DedupKey`), the `NoOp` a new leader appends (§5.4.2, thesis §6.4), or a
 * `Config` entry carrying a membership change (§6).
 */
import type { DedupKey, NodeId } from "./Ids.js"

/** One configuration's members: voters elect and count; learners only receive the log (thesis §4.2.1). */
export interface Members {
  readonly voters: ReadonlySet<NodeId>
  readonly learners: ReadonlySet<NodeId>
}

/** The membership a config entry carries; `old` present = the joint configuration C_old,new (§6). */
export interface ConfigPayload {
  readonly old?: Members
  readonly new: Members
}

export interface CommandEntry {
  readonly _tag: "Command"
  readonly index: number
  readonly term: number
  readonly command: Uint8Array
  readonly dedupKey: DedupKey
}

export interface NoOpEntry {
  readonly _tag: "NoOp"
  readonly index: number
  readonly term: number
}

export interface ConfigEntry {
  readonly _tag: "Config"
  readonly index: number
  readonly term: number
  readonly config: ConfigPayload
}

export type LogEntry = CommandEntry | NoOpEntry | ConfigEntry

/** A consumer-published snapshot: its state machine's bytes covering every index ≤ `throughIndex`. */
export interface Snapshot {
  readonly throughIndex: number
  readonly state: Uint8Array
}

/**
 * One ordered instruction for the consumer's state machine. `Entry`: apply the command.
 * `Internal`: an index Raft used for itself (no-op or config) — fold it into the applied index
 * or read fences stall. `Install`: replace the state with the snapshot.
 */
export type Committed =
  | { readonly _tag: "Entry"; readonly entry: CommandEntry }
  | { readonly _tag: "Internal"; readonly index: number }
  | { readonly _tag: "Install"; readonly snapshot: Snapshot }

/** The single withholding rule: no-op and config entries reach the consumer as `Internal`. */
export const toCommitted = (entry: LogEntry): Committed =>
  entry._tag === "Command" ? { _tag: "Entry", entry } : { _tag: "Internal", index: entry.index }
