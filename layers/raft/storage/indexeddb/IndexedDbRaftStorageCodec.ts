/**
 * The byte format of the records `IndexedDbRaftStorage` keeps, and their checksums.
 *
 * Every Raft record (an entry, the hard state, the leader record, the snapshot's metadata, the
 * log's shape) is stored as `Sealed`: its encoding plus the CRC-32 of that encoding. IndexedDB's
 * structured clone could store the objects as they are, but then nothing would notice a record
 * that changed after it was written, and class instances (`ConfigPayload`) would come back as
 * plain objects. Each encoding starts with a format byte so a later version can migrate records
 * one by one.
 *
 * Entries and configurations use the wire's encoding (`src/codec/raft/EntryCodec.ts`), other fields
 * the same `BinaryWriter`/`BinaryReader` (LEB128 indices and terms, u32-prefixed UTF-8 strings and
 * bytes), so the reader's checks (canonical varuints, valid UTF-8,
 * no trailing bytes, lengths within the record) apply here too. Decoding never throws: damage is
 * returned as a reason string, which the caller turns into `CorruptDurableState` or `StorageError`.
 */
import { Either } from "effect"
import type { ConfigPayload } from "../../../../services/raft/ClusterConfig.js"
import type { LogEntry } from "../../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../../services/raft/NodeId.js"
import type { HardState, LeaderForTerm, SnapshotMeta } from "../../../../services/raft/RaftStorage.js"
import type { BinaryReader } from "../../../../src/codec/BinaryReader.js"
import { BinaryWriter } from "../../../../src/codec/BinaryWriter.js"
import { decodeWith } from "../../../../src/codec/Codec.js"
import { readConfigPayload, readEntry, readId, writeConfigPayload, writeEntry } from "../../../../src/codec/raft/EntryCodec.js"
import { crc32 } from "../../../../src/codec/Crc32.js"
import { LogShape } from "./IndexedDbRaftStorageLogShape.js"
import type { TermRun } from "./IndexedDbRaftStorageLogShape.js"

/** Version of every record's encoding (its first byte). */
export const RECORD_FORMAT = 1

/** A stored record: the encoding and its CRC-32. */
export interface Sealed {
  readonly crc32: number
  readonly data: Uint8Array
}

/** Seals an exact-size encoding (structured clone copies a view's whole buffer, so no views). */
export const seal = (data: Uint8Array): Sealed => ({ crc32: crc32(data), data })

/** The encoding inside a stored value, or why it is not an intact `Sealed` record. */
export const unseal = (value: unknown): Either.Either<Uint8Array, string> => {
  if (typeof value !== "object" || value === null) return Either.left("the record is not an object")
  const { crc32: sum, data } = value as { readonly crc32?: unknown; readonly data?: unknown }
  if (!(data instanceof Uint8Array) || typeof sum !== "number") return Either.left("the record lacks its bytes or checksum")
  const actual = crc32(data)
  return actual === sum
    ? Either.right(data)
    : Either.left(`checksum mismatch (stored ${hex(sum)}, computed ${hex(actual)})`)
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`

// ---------------------------------------------------------------- writing

/** One scratch writer for every encoding (encodings never nest); dropped after a huge record. */
let scratch = new BinaryWriter(1024)
const MAX_RETAINED_CAPACITY = 1 << 20

const encode = (write: (w: BinaryWriter) => void): Uint8Array => {
  const w = scratch.reset()
  try {
    w.u8(RECORD_FORMAT)
    write(w)
    return w.finish()
  } finally {
    if (w.capacity > MAX_RETAINED_CAPACITY) scratch = new BinaryWriter(1024)
  }
}

/** Lone surrogates have no UTF-8 form (they would come back as U+FFFD), so they are refused. */
const LONE_SURROGATE = /\p{Cs}/u

const checkId = (s: string): void => {
  if (LONE_SURROGATE.test(s)) throw new RangeError(`the id ${JSON.stringify(s)} contains a lone surrogate`)
}

const id = (w: BinaryWriter, s: string): void => {
  checkId(s)
  w.string(s)
}

const checkConfigIds = (c: ConfigPayload): void => {
  for (const half of [c.old, c.new]) {
    if (half === undefined) continue
    for (const x of half.voters) checkId(x)
    for (const x of half.learners) checkId(x)
  }
}

/**
 * The encoding of one entry: the wire's entry encoding (`EntryCodec`). Throws `RangeError` for a
 * value outside the entry's domain (the write path validates first, so this only fires for ids
 * with lone surrogates).
 */
export const encodeEntry = (e: LogEntry): Uint8Array => {
  if (e._tag === "Command") checkId(e.dedupKey.clientId)
  if (e._tag === "Config") checkConfigIds(e.config)
  return encode((w) => writeEntry(w, e))
}

export const encodeHardState = (h: HardState): Uint8Array =>
  encode((w) => {
    w.varuint(h.term).optional(h.votedFor ?? undefined, id)
  })

export const encodeLeaderForTerm = (l: LeaderForTerm): Uint8Array =>
  encode((w) => {
    w.varuint(l.term)
    id(w, l.leaderId)
  })

/** Snapshot metadata plus the length and CRC-32 of the state bytes, which are stored apart. */
export interface StoredSnapshotMeta {
  readonly meta: SnapshotMeta
  readonly stateLength: number
  readonly stateCrc32: number
}

export const encodeSnapshotMeta = (s: StoredSnapshotMeta): Uint8Array =>
  encode((w) => {
    checkConfigIds(s.meta.config)
    w.varuint(s.meta.lastIncludedIndex).varuint(s.meta.lastIncludedTerm)
    writeConfigPayload(w, s.meta.config)
    w.varuint(s.stateLength).u32(s.stateCrc32)
  })

export const encodeLogShape = (log: LogShape): Uint8Array =>
  encode((w) => {
    w.bool(!log.isEmpty)
    if (log.isEmpty) return
    w.varuint(log.first!).varuint(log.last!).u32(log.runs.length)
    for (const r of log.runs) w.varuint(r.start).varuint(r.term)
  })

// ---------------------------------------------------------------- reading

const decode = <A>(bytes: Uint8Array, read: (r: BinaryReader) => A): Either.Either<A, string> =>
  Either.mapLeft(
    decodeWith(bytes, (r) => {
      const format = r.u8()
      if (format !== RECORD_FORMAT) r.fail(`unknown record format ${format}`)
      const value = read(r)
      r.finish()
      return value
    }),
    (e) => e.message
  )

const readNodeId = (r: BinaryReader): NodeId => readId(r, "node id") as NodeId

/** An entry; its `command` is a view into `bytes` (each IndexedDB read yields fresh bytes). */
export const decodeEntry = (bytes: Uint8Array): Either.Either<LogEntry, string> => decode(bytes, readEntry)

export const decodeHardState = (bytes: Uint8Array): Either.Either<HardState, string> =>
  decode(bytes, (r) => ({ term: r.varuint(), votedFor: r.optional(readNodeId) ?? null }))

export const decodeLeaderForTerm = (bytes: Uint8Array): Either.Either<LeaderForTerm, string> =>
  decode(bytes, (r) => ({ term: r.varuint(), leaderId: readNodeId(r) }))

export const decodeSnapshotMeta = (bytes: Uint8Array): Either.Either<StoredSnapshotMeta, string> =>
  decode(bytes, (r) => {
    const lastIncludedIndex = r.varuint()
    const lastIncludedTerm = r.varuint()
    const config = readConfigPayload(r)
    return { meta: { lastIncludedIndex, lastIncludedTerm, config }, stateLength: r.varuint(), stateCrc32: r.u32() }
  })

export const decodeLogShape = (bytes: Uint8Array): Either.Either<LogShape, string> =>
  decode(bytes, (r) => {
    if (!r.bool()) return LogShape.empty
    const first = r.varuint()
    const last = r.varuint()
    const n = r.u32()
    // Each run takes at least two bytes: an inflated count fails before anything is allocated.
    if (n > r.remaining / 2) r.fail(`term run count ${n} exceeds the record`)
    const runs: Array<TermRun> = []
    for (let k = 0; k < n; k++) runs.push({ start: r.varuint(), term: r.varuint() })
    const shape = LogShape.of(first, last, runs)
    return typeof shape === "string" ? r.fail(shape) : shape
  })
