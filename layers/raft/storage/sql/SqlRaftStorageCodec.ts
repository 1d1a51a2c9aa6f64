/**
 * The bytes `SqlRaftStorage` keeps in its rows, and their checksums.
 *
 * The log is stored as *runs*: one row holds a run of contiguous entries written by one batch
 * (capped in entries and bytes), keyed by its first index, with its last index beside it. A row
 * per run instead of a row per entry is what makes group commit cheap: SQLite's cost is mostly
 * per row (a B-tree insert), so a 256-entry turn costs one insert, not 256.
 *
 * Run format (independent of the wire format, so either can evolve alone): `[format u8 = 1]
 * [count u32]` then per entry `[kind u8][term varuint]` and the kind's payload — a command's
 * bytes, client id and request id; nothing for a no-op; a config's old (optional) and new
 * member sets. Indices are implied by the row's first index.
 *
 * Every row carries a CRC-32 over its content *and its key columns*, so a flipped byte, a row
 * edited in place or a row moved to another index is caught at load (`CorruptDurableState`).
 */
import type { ConfigPayload } from "../../../../services/raft/ClusterConfig.js"
import type { ClientId } from "../../../../services/raft/ClientId.js"
import type { LogEntry } from "../../../../services/raft/LogEntry.js"
import type { HardState, LeaderForTerm } from "../../../../services/raft/RaftStorage.js"
import { BinaryReader } from "../../../../src/codec/BinaryReader.js"
import { BinaryWriter } from "../../../../src/codec/BinaryWriter.js"
import { readConfigPayload, readId, writeConfigPayload } from "../../../../src/codec/raft/EntryCodec.js"
import { crc32 } from "./crc32.js"

const RUN_FORMAT = 1
const KIND_COMMAND = 0
const KIND_NOOP = 1
const KIND_CONFIG = 2

/** A run is closed after this many entries or (roughly) bytes, whichever comes first. */
export const RUN_MAX_ENTRIES = 1024
export const RUN_MAX_BYTES = 256 * 1024

/** One writer for every encoding: encoding never re-enters, and `finish()` copies out. */
const writer = new BinaryWriter(64 * 1024)

// ------------------------------------------------------------------ configs

// Configurations and ids use the wire's encoding (`src/codec/raft/EntryCodec.ts`): one reader
// with one set of plausibility bounds for every place a configuration is decoded.

/** A config payload alone (the snapshot row's `config` column). */
export const encodeConfig = (c: ConfigPayload): Uint8Array => {
  writeConfigPayload(writer.reset(), c)
  return writer.finish()
}

/** Throws `DecodeError` on malformed bytes. */
export const decodeConfig = (bytes: Uint8Array): ConfigPayload => {
  const r = new BinaryReader(bytes)
  const c = readConfigPayload(r)
  r.finish()
  return c
}

// ------------------------------------------------------------------ runs of entries

/** Encodes `entries[from..to)` (contiguous) as one run. */
export const encodeRun = (entries: ReadonlyArray<LogEntry>, from: number, to: number): Uint8Array => {
  const w = writer.reset()
  w.u8(RUN_FORMAT).u32(to - from)
  for (let k = from; k < to; k++) {
    const e = entries[k]!
    switch (e._tag) {
      case "Command":
        w.u8(KIND_COMMAND).varuint(e.term).bytes(e.command).string(e.dedupKey.clientId).varuint(e.dedupKey.requestId)
        break
      case "NoOp":
        w.u8(KIND_NOOP).varuint(e.term)
        break
      case "Config":
        w.u8(KIND_CONFIG).varuint(e.term)
        writeConfigPayload(w, e.config)
        break
    }
  }
  return w.finish()
}

/**
 * Where to cut `entries` into runs: end offsets (exclusive), each run ≤ `RUN_MAX_ENTRIES`
 * entries and, unless a single entry is larger, ≤ about `RUN_MAX_BYTES` of payload. Small runs
 * keep the rare read-modify-write of a run (a truncation inside it) cheap.
 */
export const runBoundaries = (entries: ReadonlyArray<LogEntry>): Array<number> => {
  const ends: Array<number> = []
  let count = 0
  let bytes = 0
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!
    const size = e._tag === "Command" ? e.command.byteLength + 16 : 16
    if (count > 0 && (count >= RUN_MAX_ENTRIES || bytes + size > RUN_MAX_BYTES)) {
      ends.push(k)
      count = 0
      bytes = 0
    }
    count++
    bytes += size
  }
  if (count > 0) ends.push(entries.length)
  return ends
}

/**
 * Decodes a run whose first entry has index `firstIndex`. Throws `DecodeError` on malformed
 * bytes. Command bytes are copied out, so the entries own their bytes.
 */
export const decodeRun = (data: Uint8Array, firstIndex: number): Array<LogEntry> => {
  const r = new BinaryReader(data, { copyBytes: true })
  const format = r.u8()
  if (format !== RUN_FORMAT) r.fail(`unknown run format ${format}`)
  const count = r.u32()
  if (count * 2 > r.remaining) r.fail(`entry count ${count} cannot fit in ${r.remaining} bytes`)
  const out: Array<LogEntry> = []
  for (let k = 0; k < count; k++) {
    const kind = r.u8()
    const index = firstIndex + k
    const term = r.varuint()
    switch (kind) {
      case KIND_COMMAND: {
        const command = r.bytes()
        const clientId = readId(r, "client id") as ClientId
        out.push({ _tag: "Command", index, term, command, dedupKey: { clientId, requestId: r.varuint() } })
        break
      }
      case KIND_NOOP:
        out.push({ _tag: "NoOp", index, term })
        break
      case KIND_CONFIG:
        out.push({ _tag: "Config", index, term, config: readConfigPayload(r) })
        break
      default:
        r.fail(`unknown entry kind ${kind}`)
    }
  }
  r.finish()
  return out
}

// ------------------------------------------------------------------ checksums

/** The CRC of `parts` (numbers as 8-byte uint53, strings as UTF-8 with a length, null as a tag). */
const checksumOf = (parts: ReadonlyArray<number | string | null | Uint8Array>): number => {
  const w = writer.reset()
  let seed = 0
  for (const p of parts) {
    if (p === null) w.u8(0)
    else if (typeof p === "number") w.u8(1).uint53(p)
    else if (typeof p === "string") w.u8(2).string(p)
    else {
      // Large byte strings are folded in directly instead of being copied into the writer.
      w.u8(3).u32(p.byteLength)
      seed = crc32(p, crc32(w.finishView(), seed))
      w.reset()
    }
  }
  return crc32(w.finishView(), seed)
}

/** A log row's CRC: its data and both of its key columns. */
export const runChecksum = (firstIndex: number, lastIndex: number, data: Uint8Array): number =>
  checksumOf([firstIndex, lastIndex, data])

/** The state row's CRC: hard state, leader record and the discarded-prefix floor. */
export const stateChecksum = (hard: HardState, leader: LeaderForTerm | null, floor: number): number =>
  checksumOf([hard.term, hard.votedFor, leader?.term ?? null, leader?.leaderId ?? null, floor])

/** The snapshot row's CRC: its index, term, encoded config and state. */
export const snapshotChecksum = (
  lastIncludedIndex: number,
  lastIncludedTerm: number,
  config: Uint8Array,
  state: Uint8Array
): number => checksumOf([lastIncludedIndex, lastIncludedTerm, config, state])
