/**
 * The binary encoding of log entries and configurations, shared by the Raft wire codec
 * (AppendEntries, InstallSnapshot) and the durable storages (SQLite rows, IndexedDB records), so
 * an entry has exactly one encoding everywhere. Indices and terms are LEB128 varuints; byte
 * strings and ids carry u32 length prefixes. Readers bound every count by the bytes remaining, so
 * hostile input fails with a decode error before anything large is allocated.
 */
import { MAX_ID_BYTES as ID_LIMIT } from "../../../services/IdLimit.js"
import type { ConfigPayload, Members } from "../../../services/raft/ClusterConfig.js"
import type { ClientId, DedupKey } from "../../../services/raft/ClientId.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { BinaryReader } from "../BinaryReader.js"
import type { BinaryWriter } from "../BinaryWriter.js"

/**
 * Longest id (NodeId, ClientId) in UTF-8 bytes: the one id limit (`services/IdLimit.ts`), the same
 * number the Schemas and the storages check, so a decoded id always fits a write.
 */
export const MAX_ID_BYTES = ID_LIMIT
/** Most members a configuration may list on the wire (a sanity bound, not a protocol limit). */
const MAX_MEMBERS = 10_000

const ENTRY_COMMAND = 0
const ENTRY_NOOP = 1
const ENTRY_CONFIG = 2

const utf8 = new TextEncoder()

/** Bytes of `n` as a canonical LEB128 varuint. */
export const varuintSize = (n: number): number => {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}

/** UTF-8 length of a string (ASCII fast path: ids are nearly always ASCII). */
export const utf8Size = (s: string): number => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return utf8.encode(s).byteLength
  return s.length
}

export const readId = (r: BinaryReader, what: string): string => {
  const s = r.string(MAX_ID_BYTES)
  if (s.length === 0) r.fail(`empty ${what}`)
  return s
}

// ------------------------------------------------------------------ membership

const writeMembers = (w: BinaryWriter, ids: ReadonlySet<NodeId>): void => {
  w.u32(ids.size)
  for (const id of ids) w.string(id)
}

const readMembers = (r: BinaryReader): ReadonlySet<NodeId> => {
  const n = r.u32()
  if (n > MAX_MEMBERS || n * 5 > r.remaining) r.fail(`member count ${n} cannot fit`)
  const out = new Set<NodeId>()
  for (let i = 0; i < n; i++) out.add(readId(r, "node id") as NodeId)
  return out
}

export const writeCluster = (w: BinaryWriter, c: Members): void => {
  writeMembers(w, c.voters)
  writeMembers(w, c.learners)
}

/** Decodes one configuration's members as a plain object (`Members`). */
export const readCluster = (r: BinaryReader): Members => {
  const voters = readMembers(r)
  const learners = readMembers(r)
  return { voters, learners }
}

export const writeConfigPayload = (w: BinaryWriter, c: ConfigPayload): void => {
  w.optional(c.old, writeCluster)
  writeCluster(w, c.new)
}

export const readConfigPayload = (r: BinaryReader): ConfigPayload => {
  const old = r.bool() ? readCluster(r) : undefined
  const next = readCluster(r)
  return old === undefined ? { new: next } : { old, new: next }
}

const clusterSize = (c: Members): number => {
  let n = 8
  for (const id of c.voters) n += 4 + utf8Size(id)
  for (const id of c.learners) n += 4 + utf8Size(id)
  return n
}

// ------------------------------------------------------------------ entries

export const writeDedup = (w: BinaryWriter, k: DedupKey): void => {
  w.string(k.clientId)
  w.varuint(k.requestId)
}

export const readDedup = (r: BinaryReader): DedupKey => ({
  clientId: readId(r, "client id") as ClientId,
  requestId: r.varuint()
})

export const writeEntry = (w: BinaryWriter, e: LogEntry): void => {
  switch (e._tag) {
    case "Command":
      w.u8(ENTRY_COMMAND).varuint(e.index).varuint(e.term).bytes(e.command)
      writeDedup(w, e.dedupKey)
      return
    case "NoOp":
      w.u8(ENTRY_NOOP).varuint(e.index).varuint(e.term)
      return
    case "Config":
      w.u8(ENTRY_CONFIG).varuint(e.index).varuint(e.term)
      writeConfigPayload(w, e.config)
      return
  }
}

export const readEntry = (r: BinaryReader): LogEntry => {
  const kind = r.u8()
  const index = r.varuint()
  const term = r.varuint()
  switch (kind) {
    case ENTRY_COMMAND: {
      const command = r.bytes()
      return { _tag: "Command", index, term, command, dedupKey: readDedup(r) }
    }
    case ENTRY_NOOP:
      return { _tag: "NoOp", index, term }
    case ENTRY_CONFIG:
      return { _tag: "Config", index, term, config: readConfigPayload(r) }
    default:
      return r.fail(`unknown entry kind ${kind}`)
  }
}

/** Exact bytes `entry` occupies inside an AppendEntries body. */
export const entryWireSize = (e: LogEntry): number => {
  const head = 1 + varuintSize(e.index) + varuintSize(e.term)
  switch (e._tag) {
    case "Command":
      return head + 4 + e.command.byteLength + 4 + utf8Size(e.dedupKey.clientId) + varuintSize(e.dedupKey.requestId)
    case "NoOp":
      return head
    case "Config":
      return head + 1 + (e.config.old === undefined ? 0 : clusterSize(e.config.old)) + clusterSize(e.config.new)
  }
}
