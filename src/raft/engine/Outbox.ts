/**
 * Sending a turn's messages, after its write is durable. Each message is encoded and handed to the
 * transport — synchronously through its fast path when it has one, else as the `sendTo` Effect
 * the caller runs. The same AppendEntries for several followers (a broadcast of one batch) is
 * encoded once: frames are immutable once sent, so they can share the bytes.
 */
import type { Effect } from "effect"
import { encodeRaftMessage } from "../../codec/raft/RaftCodec.js"
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { RaftTransportShape } from "../../../services/raft/RaftTransport.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftTransportFastPath } from "../../../services/raft/TransportFastPath.js"

export class Outbox {
  /** The last message sent in this `Ready` and its bytes (an identical AppendEntries reuses them). */
  private lastSent: RaftMessage | undefined = undefined
  private lastBytes: Uint8Array | undefined = undefined

  constructor(
    private readonly transport: RaftTransportShape,
    /** The transport's synchronous send, when it has one. */
    private readonly fast: RaftTransportFastPath | undefined
  ) {}

  /** A new `Ready` starts: nothing sent yet to share bytes with. */
  reset(): void {
    this.lastSent = undefined
  }

  /** Sends `message` to `to`: `undefined` when done synchronously, else the Effect that sends it. */
  send(to: NodeId, message: RaftMessage): Effect.Effect<void> | undefined {
    const last = this.lastSent
    const bytes = last !== undefined && sameAppend(last, message) ? this.lastBytes! : encodeRaftMessage(message)
    this.lastSent = message
    this.lastBytes = bytes
    return this.fast !== undefined ? this.fast.trySend(to, bytes) : this.transport.sendTo(to, bytes)
  }
}

/**
 * True when `b` is an AppendEntries that encodes to the same bytes as `a`: same header and the
 * very same entry objects (log entries are immutable, so identity implies equal bytes).
 */
const sameAppend = (a: RaftMessage, b: RaftMessage): boolean => {
  if (a._tag !== "AppendEntries" || b._tag !== "AppendEntries") return false
  if (
    a.term !== b.term || a.prevLogIndex !== b.prevLogIndex || a.prevLogTerm !== b.prevLogTerm ||
    a.leaderCommit !== b.leaderCommit || a.round !== b.round || a.entries.length !== b.entries.length
  ) return false
  for (let i = 0; i < a.entries.length; i++) if (a.entries[i] !== b.entries[i]) return false
  return true
}
