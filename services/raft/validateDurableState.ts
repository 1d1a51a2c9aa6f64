/**
 * Consistency check of a loaded `DurableState`, run by the Raft engine right after
 * `RaftStorage.load` and before it trusts a single field.
 *
 * Why a separate, pure check: every storage (in-memory, SQLite, IndexedDB) can be damaged by
 * something outside the engine's control (a bug in an older version, a hand-edited file, a
 * half-migrated database). Starting a node on contradictory state silently breaks Raft's safety
 * (a term that went backwards lets the node vote twice; a hole in the log makes it acknowledge
 * entries it does not hold), so the node refuses to start instead, with a reason precise enough
 * to find the damage.
 *
 * Rules (each failure names the rule and the offending values):
 * - every term and index is a safe integer in 0..2^53−1 (indices of entries are ≥ 1);
 * - `votedFor`, `leaderForTerm.leaderId` and client ids are ids within the one id limit (1..255
 *   bytes of well-formed UTF-8, `services/IdLimit.ts`);
 * - `leaderForTerm.term` ≤ `hardState.term`; the snapshot's `lastIncludedTerm` ≤ `hardState.term`;
 * - entries are contiguous and start right after the snapshot (`lastIncludedIndex + 1`), or at 1
 *   without a snapshot: a prefix is only ever discarded once a snapshot covers it;
 * - entry terms never decrease, the first is ≥ the snapshot's `lastIncludedTerm`, none exceeds
 *   `hardState.term`;
 * - each entry is one of the three kinds with its payload (command bytes and dedup key, or a
 *   config).
 */
import { Either } from "effect"
import { idProblem, MAX_ID_BYTES } from "../IdLimit.js"
import type { LogEntry } from "./LogEntry.js"
import { CorruptDurableState } from "./RaftErrors.js"
import type { DurableState } from "./RaftStorage.js"

/** Largest id length in UTF-8 bytes (`NodeId`, `ClientId`): the one id limit. */
export const MAX_ID_LENGTH = MAX_ID_BYTES

/** A term or index inside the plausibility range 0..2^53−1. */
export const isPlausibleNumber = (n: unknown): n is number =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/** Why an id is unusable, or undefined when it is within the one id limit. */
export { idProblem }

/**
 * Why a single entry is malformed (ignoring its place in the log), or undefined when it is sound.
 * Shared with the write-side validation so both ends agree on what an entry is.
 */
/** "entry N", for messages; a top-level function so the hot path allocates no closure per entry. */
const at = (entry: LogEntry): string => `entry ${describe(entry?.index)}`

export const entryProblem = (entry: LogEntry): string | undefined => {
  // Runs for every entry of every write: no allocation unless there is a problem to report.
  if (typeof entry !== "object" || entry === null) return `an entry is not an object`
  if (!isPlausibleNumber(entry.index) || entry.index < 1) {
    return `${at(entry)}: index is not a safe integer in 1..2^53-1`
  }
  if (!isPlausibleNumber(entry.term)) return `${at(entry)}: term ${describe(entry.term)} is not a safe integer in 0..2^53-1`
  switch (entry._tag) {
    case "Command": {
      if (!(entry.command instanceof Uint8Array)) return `${at(entry)}: command is not a Uint8Array`
      const key = entry.dedupKey as unknown
      if (typeof key !== "object" || key === null) return `${at(entry)}: command has no dedup key`
      const clientProblem = idProblem(entry.dedupKey.clientId)
      if (clientProblem !== undefined) return `${at(entry)}: dedup key client id ${clientProblem}`
      if (!isPlausibleNumber(entry.dedupKey.requestId)) {
        return `${at(entry)}: dedup key request id ${describe(entry.dedupKey.requestId)} is not a safe non-negative integer`
      }
      return undefined
    }
    case "NoOp":
      return undefined
    case "Config": {
      const p = configProblem(entry.config)
      return p === undefined ? undefined : `${at(entry)}: ${p}`
    }
    default: {
      // Reachable only with data that bypassed the types (decoded bytes, a foreign writer);
      // `never` keeps the switch exhaustive when a new kind is added.
      const unknownKind: never = entry
      return `${at(entry)}: unknown entry kind ${describe((unknownKind as { readonly _tag?: unknown })._tag)}`
    }
  }
}

/** Why a config payload is unusable, or undefined. Only the shape is checked, not quorum sense. */
export const configProblem = (config: unknown): string | undefined => {
  if (typeof config !== "object" || config === null) return "config payload is missing"
  const next = (config as { readonly new?: unknown }).new
  if (typeof next !== "object" || next === null) return "config payload has no new configuration"
  return undefined
}

/**
 * Checks a loaded `DurableState`; `Right(state)` when consistent, otherwise
 * `Left(CorruptDurableState)` naming the first broken rule. Pure and O(number of entries).
 */
export const validateDurableState = (state: DurableState): Either.Either<DurableState, CorruptDurableState> => {
  const problem = findProblem(state)
  return problem === undefined ? Either.right(state) : Either.left(new CorruptDurableState({ reason: problem }))
}

const findProblem = (state: DurableState): string | undefined => {
  const { entries, hardState, leaderForTerm, snapshot } = state
  if (!isPlausibleNumber(hardState.term)) {
    return `hard-state term ${describe(hardState.term)} is not a safe integer in 0..2^53-1`
  }
  const term = hardState.term
  if (hardState.votedFor !== null) {
    const p = idProblem(hardState.votedFor)
    if (p !== undefined) return `votedFor ${p}`
  }
  if (leaderForTerm !== null) {
    if (!isPlausibleNumber(leaderForTerm.term)) {
      return `leader-for-term term ${describe(leaderForTerm.term)} is not a safe integer in 0..2^53-1`
    }
    const p = idProblem(leaderForTerm.leaderId)
    if (p !== undefined) return `leader-for-term leader id ${p}`
    if (leaderForTerm.term > term) {
      return `leader-for-term term ${leaderForTerm.term} exceeds the hard-state term ${term}`
    }
  }
  let baseIndex = 0
  let baseTerm = 0
  if (snapshot !== null) {
    const { lastIncludedIndex, lastIncludedTerm } = snapshot.meta
    if (!isPlausibleNumber(lastIncludedIndex)) {
      return `snapshot lastIncludedIndex ${describe(lastIncludedIndex)} is not a safe integer in 0..2^53-1`
    }
    if (!isPlausibleNumber(lastIncludedTerm)) {
      return `snapshot lastIncludedTerm ${describe(lastIncludedTerm)} is not a safe integer in 0..2^53-1`
    }
    if (lastIncludedTerm > term) {
      return `snapshot lastIncludedTerm ${lastIncludedTerm} exceeds the hard-state term ${term}`
    }
    if (!(snapshot.state instanceof Uint8Array)) return "snapshot state is not a Uint8Array"
    const p = configProblem(snapshot.meta.config)
    if (p !== undefined) return `snapshot ${p}`
    baseIndex = lastIncludedIndex
    baseTerm = lastIncludedTerm
  }
  let prevIndex = baseIndex
  let prevTerm = baseTerm
  for (let k = 0; k < entries.length; k++) {
    const entry = entries[k]!
    const p = entryProblem(entry)
    if (p !== undefined) return p
    if (entry.index !== prevIndex + 1) {
      return k === 0
        ? `the first entry has index ${entry.index}; it must be ${prevIndex + 1} (${
          snapshot === null ? "no snapshot" : `right after the snapshot at ${baseIndex}`
        })`
        : `entries are not contiguous: index ${entry.index} follows ${prevIndex}`
    }
    if (entry.term < prevTerm) {
      return k === 0
        ? `the first entry (index ${entry.index}) has term ${entry.term}, below the snapshot's lastIncludedTerm ${prevTerm}`
        : `terms decrease: entry ${entry.index} has term ${entry.term} after term ${prevTerm}`
    }
    if (entry.term > term) {
      return `entry ${entry.index} has term ${entry.term}, above the hard-state term ${term}`
    }
    prevIndex = entry.index
    prevTerm = entry.term
  }
  return undefined
}

const describe = (x: unknown): string => (typeof x === "string" ? JSON.stringify(x) : String(x))
