/**
 * From raw IndexedDB records to checked Raft state: the pure half of `IndexedDbRaftStorage`'s
 * reads, kept apart from the IndexedDB calls so every corruption rule can be tested without a
 * browser.
 *
 * A database is refused (a reason string, which the storage turns into `CorruptDurableState`)
 * when a record's checksum or encoding is wrong, when the stored entry keys are not exactly the
 * contiguous range the log's shape records (a lost or extra entry), when an entry's own index or
 * term disagrees with its key or the shape, when the snapshot's state bytes do not match their
 * recorded length and checksum, and finally when the assembled state breaks a rule of
 * `validateDurableState` (a gap after the snapshot, terms going backwards, ...).
 */
import { Either } from "effect"
import type { LogEntry } from "../../../../services/raft/LogEntry.js"
import type { DurableState, HardState, LeaderForTerm } from "../../../../services/raft/RaftStorage.js"
import { validateDurableState } from "../../../../services/raft/validateDurableState.js"
import { crc32 } from "../../../../src/codec/Crc32.js"
import {
  decodeEntry,
  decodeHardState,
  decodeLeaderForTerm,
  decodeLogShape,
  decodeSnapshotMeta,
  type StoredSnapshotMeta,
  unseal
} from "./IndexedDbRaftStorageCodec.js"
import { FORMAT_MARKER } from "./IndexedDbRaftStorageIdb.js"
import { LogShape } from "./IndexedDbRaftStorageLogShape.js"
import { EMPTY_MIRROR, type Mirror } from "./IndexedDbRaftStoragePlan.js"

/** Keys of the small records in the meta store. */
export const KEY = {
  hardState: "hardState",
  leaderForTerm: "leaderForTerm",
  snapshot: "snapshot",
  log: "log",
  owner: "owner"
} as const

/** Key of the snapshot's state bytes in the snapshot store. */
export const STATE_KEY = "state"

/** The meta store's Raft records as read (`undefined` = absent). */
export interface RawMeta {
  readonly format: unknown
  readonly hardState: unknown
  readonly leaderForTerm: unknown
  readonly snapshot: unknown
  readonly log: unknown
}

/** A mirror plus what the snapshot's state bytes must look like. */
export interface CheckedMeta {
  readonly mirror: Mirror
  readonly snapshot: StoredSnapshotMeta | null
}

const record = <A>(
  value: unknown,
  name: string,
  decode: (bytes: Uint8Array) => Either.Either<A, string>
): Either.Either<A, string> =>
  Either.mapLeft(Either.flatMap(unseal(value), decode), (reason) => `the ${name} record is damaged: ${reason}`)

const optionalRecord = <A>(
  value: unknown,
  name: string,
  decode: (bytes: Uint8Array) => Either.Either<A, string>
): Either.Either<A | null, string> => (value === undefined ? Either.right(null) : record(value, name, decode))

/** The mirror the meta records describe, or why they cannot be trusted. */
export const checkMeta = (raw: RawMeta): Either.Either<CheckedMeta, string> =>
  Either.gen(function*() {
    if (raw.format !== FORMAT_MARKER) {
      return yield* Either.left(`the database is not a kuilt Raft storage (format marker ${JSON.stringify(raw.format)})`)
    }
    const hardState: HardState = (yield* optionalRecord(raw.hardState, "hard-state", decodeHardState)) ??
      EMPTY_MIRROR.hardState
    const leaderForTerm: LeaderForTerm | null = yield* optionalRecord(raw.leaderForTerm, "leader-for-term", decodeLeaderForTerm)
    const snapshot = yield* optionalRecord(raw.snapshot, "snapshot metadata", decodeSnapshotMeta)
    const log = (yield* optionalRecord(raw.log, "log shape", decodeLogShape)) ?? LogShape.empty
    return { mirror: { hardState, leaderForTerm, snapshot: snapshot?.meta ?? null, log }, snapshot }
  })

/** Everything `load` read in one transaction. */
export interface RawLoad {
  readonly meta: RawMeta
  /** The snapshot store's state bytes (`undefined` = absent). */
  readonly state: unknown
  /** Every key of the entries store, ascending. */
  readonly keys: ReadonlyArray<unknown>
  /** The entries store's values with keys ≥ `entriesFrom`, ascending. */
  readonly entries: ReadonlyArray<unknown>
  readonly entriesFrom: number
}

/** The first index `load` returns: right above the snapshot (the rest is covered by it). */
export const loadFrom = (snapshot: StoredSnapshotMeta | null): number =>
  snapshot === null ? 1 : snapshot.meta.lastIncludedIndex + 1

/** Checks the keys against the shape: exactly `first..last`, each a number. */
const keysProblem = (log: LogShape, keys: ReadonlyArray<unknown>): string | undefined => {
  if (keys.length !== log.size) {
    return `the log shape records ${log.size} entries${log.isEmpty ? "" : ` (${log.first}..${log.last})`}, but ${keys.length} are stored`
  }
  for (let k = 0; k < keys.length; k++) {
    if (keys[k] !== log.first! + k) {
      return `the stored entry keys are not the contiguous range ${log.first}..${log.last}: ${String(keys[k])} where ${log.first! + k} belongs`
    }
  }
  return undefined
}

/** An entry read back from `value` under `key`, checked against its key and the shape's term. */
export const checkEntry = (value: unknown, key: number, log: LogShape | undefined): Either.Either<LogEntry, string> =>
  Either.flatMap(
    Either.mapLeft(Either.flatMap(unseal(value), decodeEntry), (reason) => `the entry stored at index ${key} is damaged: ${reason}`),
    (entry) => {
      if (entry.index !== key) return Either.left(`the entry stored at index ${key} says it is entry ${entry.index}`)
      if (log !== undefined && !log.isEmpty && key >= log.first! && key <= log.last!) {
        const term = log.termAt(key)
        if (entry.term !== term) return Either.left(`entry ${key} has term ${entry.term}, but the log shape records term ${term}`)
      }
      return Either.right(entry)
    }
  )

/** The durable state `raw` holds, or why it is corrupt. */
export const checkLoad = (raw: RawLoad): Either.Either<DurableState, string> =>
  Either.gen(function*() {
    const { mirror, snapshot } = yield* checkMeta(raw.meta)
    let state: Uint8Array | undefined
    if (snapshot !== null) {
      if (!(raw.state instanceof Uint8Array)) return yield* Either.left("the snapshot's state bytes are missing")
      if (raw.state.length !== snapshot.stateLength) {
        return yield* Either.left(`the snapshot's state is ${raw.state.length} bytes long, its metadata says ${snapshot.stateLength}`)
      }
      if (crc32(raw.state) !== snapshot.stateCrc32) return yield* Either.left("the snapshot's state bytes fail their checksum")
      state = raw.state
    } else if (raw.state !== undefined) {
      return yield* Either.left("snapshot state bytes are stored without snapshot metadata")
    }
    const problem = keysProblem(mirror.log, raw.keys)
    if (problem !== undefined) return yield* Either.left(problem)
    const from = raw.entriesFrom
    const expected = mirror.log.isEmpty ? 0 : Math.max(0, mirror.log.last! - Math.max(from, mirror.log.first!) + 1)
    if (raw.entries.length !== expected) {
      return yield* Either.left(`${raw.entries.length} entries were read from index ${from}, ${expected} expected`)
    }
    const entries: Array<LogEntry> = []
    const start = Math.max(from, mirror.log.first ?? from)
    for (let k = 0; k < raw.entries.length; k++) entries.push(yield* checkEntry(raw.entries[k], start + k, mirror.log))
    const loaded: DurableState = {
      hardState: mirror.hardState,
      leaderForTerm: mirror.leaderForTerm,
      snapshot: snapshot === null ? null : { meta: snapshot.meta, state: state! },
      entries
    }
    return yield* Either.mapLeft(validateDurableState(loaded), (e) => e.reason)
  })
