/**
 * The binary codec of the Raft wire messages (`RaftMessage.ts` is the contract). Frames are
 * `[version][type][body]`; indices and terms are LEB128 varuints (they stay small for a long
 * time), byte strings and ids carry u32 length prefixes.
 *
 * `entryWireSize` gives the exact number of bytes an entry adds to an AppendEntries body; the
 * engine cuts batches and checks proposals against the payload budget with it.
 */
import type { Either } from "effect"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { ClientId, DedupKey } from "../../../services/raft/ClientId.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { BinaryReader } from "../BinaryReader.js"
import type { BinaryWriter } from "../BinaryWriter.js"
import { taggedUnionCodec } from "../Codec.js"
import type { TaggedFrames } from "../Codec.js"
import type { DecodeError } from "../Frame.js"
import type { ForwardOutcome, RaftMessage, ReadIndexOutcome } from "./RaftMessage.js"

/** Longest id (NodeId, ClientId) in UTF-8 bytes. */
const MAX_ID_BYTES = 255
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
const utf8Size = (s: string): number => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return utf8.encode(s).byteLength
  return s.length
}

const readId = (r: BinaryReader, what: string): string => {
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
  if (n > MAX_MEMBERS) r.fail(`member count ${n} exceeds ${MAX_MEMBERS}`)
  const out = new Set<NodeId>()
  for (let i = 0; i < n; i++) out.add(readId(r, "node id") as NodeId)
  return out
}

const writeCluster = (w: BinaryWriter, c: ClusterConfig): void => {
  writeMembers(w, c.voters)
  writeMembers(w, c.learners)
}

const readCluster = (r: BinaryReader): ClusterConfig => {
  const voters = readMembers(r)
  const learners = readMembers(r)
  return new ClusterConfig({ voters, learners }, { disableValidation: true })
}

const writeConfigPayload = (w: BinaryWriter, c: ConfigPayload): void => {
  w.optional(c.old, writeCluster)
  writeCluster(w, c.new)
}

const readConfigPayload = (r: BinaryReader): ConfigPayload => {
  const old = r.bool() ? readCluster(r) : undefined
  const next = readCluster(r)
  return new ConfigPayload(old === undefined ? { new: next } : { old, new: next }, { disableValidation: true })
}

const clusterSize = (c: ClusterConfig): number => {
  let n = 8
  for (const id of c.voters) n += 4 + utf8Size(id)
  for (const id of c.learners) n += 4 + utf8Size(id)
  return n
}

// ------------------------------------------------------------------ entries

const writeDedup = (w: BinaryWriter, k: DedupKey): void => {
  w.string(k.clientId)
  w.varuint(k.requestId)
}

const readDedup = (r: BinaryReader): DedupKey => ({
  clientId: readId(r, "client id") as ClientId,
  requestId: r.varuint()
})

const writeEntry = (w: BinaryWriter, e: LogEntry): void => {
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

const readEntry = (r: BinaryReader): LogEntry => {
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

// ------------------------------------------------------------------ frames

type Msg<T extends RaftMessage["_tag"]> = Extract<RaftMessage, { readonly _tag: T }>

const writeOutcome = (w: BinaryWriter, o: ForwardOutcome): void => {
  switch (o._tag) {
    case "Committed":
      w.u8(0).varuint(o.index).varuint(o.term)
      return
    case "NotLeader":
      w.u8(1)
      return
    case "Failed":
      w.u8(2).string(o.reason)
      return
  }
}

const readOutcome = (r: BinaryReader): ForwardOutcome => {
  const kind = r.u8()
  switch (kind) {
    case 0:
      return { _tag: "Committed", index: r.varuint(), term: r.varuint() }
    case 1:
      return { _tag: "NotLeader" }
    case 2:
      return { _tag: "Failed", reason: r.string(4096) }
    default:
      return r.fail(`unknown forward outcome ${kind}`)
  }
}

const writeReadOutcome = (w: BinaryWriter, o: ReadIndexOutcome): void => {
  switch (o._tag) {
    case "Fence":
      w.u8(0).varuint(o.index)
      return
    case "NotLeader":
      w.u8(1)
      return
  }
}

const readReadOutcome = (r: BinaryReader): ReadIndexOutcome => {
  const kind = r.u8()
  switch (kind) {
    case 0:
      return { _tag: "Fence", index: r.varuint() }
    case 1:
      return { _tag: "NotLeader" }
    default:
      return r.fail(`unknown read-index outcome ${kind}`)
  }
}

const frames: TaggedFrames<RaftMessage> = {
  RequestVote: {
    type: 1,
    write: (w, m) => void w.varuint(m.term).varuint(m.lastLogIndex).varuint(m.lastLogTerm).bool(m.leadershipTransfer),
    read: (r): Msg<"RequestVote"> => ({
      _tag: "RequestVote",
      term: r.varuint(),
      lastLogIndex: r.varuint(),
      lastLogTerm: r.varuint(),
      leadershipTransfer: r.bool()
    })
  },
  RequestVoteResponse: {
    type: 2,
    write: (w, m) => void w.varuint(m.term).bool(m.voteGranted),
    read: (r): Msg<"RequestVoteResponse"> => ({ _tag: "RequestVoteResponse", term: r.varuint(), voteGranted: r.bool() })
  },
  PreVote: {
    type: 3,
    write: (w, m) => void w.varuint(m.term).varuint(m.lastLogIndex).varuint(m.lastLogTerm).varuint(m.round),
    read: (r): Msg<"PreVote"> => ({
      _tag: "PreVote",
      term: r.varuint(),
      lastLogIndex: r.varuint(),
      lastLogTerm: r.varuint(),
      round: r.varuint()
    })
  },
  PreVoteResponse: {
    type: 4,
    write: (w, m) => void w.varuint(m.term).bool(m.voteGranted).varuint(m.proposedTerm).varuint(m.round),
    read: (r): Msg<"PreVoteResponse"> => ({
      _tag: "PreVoteResponse",
      term: r.varuint(),
      voteGranted: r.bool(),
      proposedTerm: r.varuint(),
      round: r.varuint()
    })
  },
  AppendEntries: {
    type: 5,
    write: (w, m) => {
      w.varuint(m.term).varuint(m.prevLogIndex).varuint(m.prevLogTerm).varuint(m.leaderCommit).varuint(m.round)
      w.array(m.entries, writeEntry)
    },
    read: (r): Msg<"AppendEntries"> => {
      const term = r.varuint()
      const prevLogIndex = r.varuint()
      const prevLogTerm = r.varuint()
      const leaderCommit = r.varuint()
      const round = r.varuint()
      const n = r.u32()
      // Each entry takes at least 3 bytes: a count above that is a lie, refused before allocating.
      if (n > r.remaining / 3) r.fail(`entry count ${n} exceeds what ${r.remaining} bytes can hold`)
      const entries: Array<LogEntry> = new Array(n)
      for (let i = 0; i < n; i++) entries[i] = readEntry(r)
      return { _tag: "AppendEntries", term, prevLogIndex, prevLogTerm, entries, leaderCommit, round }
    }
  },
  AppendEntriesResponse: {
    type: 6,
    write: (w, m) =>
      void w.varuint(m.term).bool(m.success).varuint(m.matchIndex).varuint(m.rejectedIndex).varuint(m.conflictIndex)
        .varuint(m.conflictTerm).varuint(m.echoedRound),
    read: (r): Msg<"AppendEntriesResponse"> => ({
      _tag: "AppendEntriesResponse",
      term: r.varuint(),
      success: r.bool(),
      matchIndex: r.varuint(),
      rejectedIndex: r.varuint(),
      conflictIndex: r.varuint(),
      conflictTerm: r.varuint(),
      echoedRound: r.varuint()
    })
  },
  InstallSnapshot: {
    type: 7,
    write: (w, m) => {
      w.varuint(m.term).varuint(m.lastIncludedIndex).varuint(m.lastIncludedTerm).varuint(m.offset)
        .varuint(m.totalBytes).bytes(m.data).bool(m.done)
      writeConfigPayload(w, m.config)
      w.varuint(m.round)
    },
    read: (r): Msg<"InstallSnapshot"> => ({
      _tag: "InstallSnapshot",
      term: r.varuint(),
      lastIncludedIndex: r.varuint(),
      lastIncludedTerm: r.varuint(),
      offset: r.varuint(),
      totalBytes: r.varuint(),
      data: r.bytes(),
      done: r.bool(),
      config: readConfigPayload(r),
      round: r.varuint()
    })
  },
  InstallSnapshotResponse: {
    type: 8,
    write: (w, m) => void w.varuint(m.term).varuint(m.lastIncludedIndex).varuint(m.nextOffset).varuint(m.echoedRound),
    read: (r): Msg<"InstallSnapshotResponse"> => ({
      _tag: "InstallSnapshotResponse",
      term: r.varuint(),
      lastIncludedIndex: r.varuint(),
      nextOffset: r.varuint(),
      echoedRound: r.varuint()
    })
  },
  TimeoutNow: {
    type: 9,
    write: (w, m) => void w.varuint(m.term),
    read: (r): Msg<"TimeoutNow"> => ({ _tag: "TimeoutNow", term: r.varuint() })
  },
  Forward: {
    type: 10,
    write: (w, m) => {
      w.varuint(m.clientRequestId).bytes(m.command)
      writeDedup(w, m.dedupKey)
    },
    read: (r): Msg<"Forward"> => ({
      _tag: "Forward",
      clientRequestId: r.varuint(),
      command: r.bytes(),
      dedupKey: readDedup(r)
    })
  },
  ForwardResponse: {
    type: 11,
    write: (w, m) => {
      w.varuint(m.clientRequestId)
      writeOutcome(w, m.outcome)
    },
    read: (r): Msg<"ForwardResponse"> => ({
      _tag: "ForwardResponse",
      clientRequestId: r.varuint(),
      outcome: readOutcome(r)
    })
  },
  ReadIndexRequest: {
    type: 12,
    write: (w, m) => void w.varuint(m.requestId),
    read: (r): Msg<"ReadIndexRequest"> => ({ _tag: "ReadIndexRequest", requestId: r.varuint() })
  },
  ReadIndexResponse: {
    type: 13,
    write: (w, m) => {
      w.varuint(m.requestId)
      writeReadOutcome(w, m.outcome)
    },
    read: (r): Msg<"ReadIndexResponse"> => ({
      _tag: "ReadIndexResponse",
      requestId: r.varuint(),
      outcome: readReadOutcome(r)
    })
  }
}

/** The Raft message codec (zero-copy decode: byte fields are views into the frame). */
export const RaftCodec = taggedUnionCodec<RaftMessage>(frames)

export const encodeRaftMessage = (m: RaftMessage): Uint8Array => RaftCodec.encode(m)

export const decodeRaftMessage = (bytes: Uint8Array): Either.Either<RaftMessage, DecodeError> => RaftCodec.decode(bytes)
