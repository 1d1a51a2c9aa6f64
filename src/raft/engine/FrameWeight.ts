/**
 * Which lane a frame takes (`FrameLanes.ts`) and what it weighs against a turn's budget, read
 * without decoding it: 0 for a control frame (a vote, a heartbeat, an acknowledgement, a
 * read-index round), else its size in bytes. The frame layout is `[version][type][body]`
 * (`src/codec/raft/RaftCodec.ts`); an AppendEntries is control when it carries no entries.
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"

/** A control frame larger than this is weighed as bulk (nothing legitimate is that large). */
const CONTROL_MAX_BYTES = 512

const APPEND_ENTRIES = 5
const INSTALL_SNAPSHOT = 7
const FORWARD = 10
const FORWARD_RESPONSE = 11

/** Offset just past the LEB128 varuint at `at`, or -1 when the frame ends first. */
const skipVaruint = (bytes: Uint8Array, at: number): number => {
  for (let i = at; i < bytes.length && i < at + 10; i++) if ((bytes[i]! & 0x80) === 0) return i + 1
  return -1
}

/** The AppendEntries frame carries no entries (its u32 entry count, after five varuints, is 0). */
const isEmptyAppend = (bytes: Uint8Array): boolean => {
  let at = 2
  for (let k = 0; k < 5; k++) {
    at = skipVaruint(bytes, at)
    if (at < 0) return false
  }
  if (at + 4 > bytes.length) return false
  return (bytes[at]! | bytes[at + 1]! | bytes[at + 2]! | bytes[at + 3]!) === 0
}

/** The weight of an encoded Raft frame (0: control). */
export const weighFrame = (bytes: Uint8Array): number => {
  const n = bytes.byteLength
  if (n < 2 || n > CONTROL_MAX_BYTES) return Math.max(1, n)
  switch (bytes[1]) {
    case APPEND_ENTRIES:
      return isEmptyAppend(bytes) ? 0 : n
    case INSTALL_SNAPSHOT:
    case FORWARD:
    case FORWARD_RESPONSE:
      return n
    default:
      return 0
  }
}

/** The same weight for a decoded message (simulators pass messages, not bytes); sizes are estimates. */
export const weighMessage = (m: RaftMessage): number => {
  switch (m._tag) {
    case "AppendEntries":
      return m.entries.length === 0 ? 0 : 24 + 32 * m.entries.length
    case "InstallSnapshot":
      return 64 + m.data.byteLength
    case "Forward":
      return 32 + m.command.byteLength
    case "ForwardResponse":
      return 16
    case "RequestVote":
    case "RequestVoteResponse":
    case "PreVote":
    case "PreVoteResponse":
    case "AppendEntriesResponse":
    case "InstallSnapshotResponse":
    case "TimeoutNow":
    case "ReadIndexRequest":
    case "ReadIndexResponse":
    case "VouchRequest":
    case "Vouch":
      return 0
  }
}
