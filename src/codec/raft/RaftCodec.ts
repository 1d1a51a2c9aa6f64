/**
 * The binary codec of the Raft wire messages (`RaftMessage.ts` is the contract). Frames are
 * `[version][type][body]`; indices and terms are LEB128 varuints (they stay small for a long
 * time), byte strings and ids carry u32 length prefixes.
 *
 * Entries and configurations use the shared encoding of `EntryCodec.ts`; `entryWireSize` gives
 * the exact number of bytes an entry adds to an AppendEntries body, which the engine uses to cut
 * batches and to check proposals against the payload budget.
 */
import type { Either } from "effect"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { BinaryReader } from "../BinaryReader.js"
import type { BinaryWriter } from "../BinaryWriter.js"
import { taggedUnionCodec } from "../Codec.js"
import type { TaggedFrames } from "../Codec.js"
import type { DecodeError } from "../Frame.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { readConfigPayload, readDedup, readEntry, readId, writeConfigPayload, writeDedup, writeEntry } from "./EntryCodec.js"
import type { ForwardOutcome, RaftMessage, ReadIndexOutcome } from "./RaftMessage.js"

export { entryWireSize, varuintSize } from "./EntryCodec.js"

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
  },
  VouchRequest: {
    type: 14,
    write: (w, m) => void w.varuint(m.term),
    read: (r): Msg<"VouchRequest"> => ({ _tag: "VouchRequest", term: r.varuint() })
  },
  Vouch: {
    type: 15,
    write: (w, m) => {
      w.varuint(m.term)
      w.optional(m.leader, (w2, id) => void w2.string(id))
    },
    read: (r): Msg<"Vouch"> => {
      const term = r.varuint()
      const leader = r.bool() ? (readId(r, "leader id") as NodeId) : undefined
      return leader === undefined ? { _tag: "Vouch", term } : { _tag: "Vouch", term, leader }
    }
  }
}

/** The Raft message codec (zero-copy decode: byte fields are views into the frame). */
export const RaftCodec = taggedUnionCodec<RaftMessage>(frames)

export const encodeRaftMessage = (m: RaftMessage): Uint8Array => RaftCodec.encode(m)

export const decodeRaftMessage = (bytes: Uint8Array): Either.Either<RaftMessage, DecodeError> => RaftCodec.decode(bytes)
