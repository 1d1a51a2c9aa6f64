/**
 * Proposals from any role (original §8 forwarding).
 *
 * The leader appends. A follower or learner forwards to the leader it knows, or parks the
 * proposal until one is known; a parked proposal whose caller gave up is never sent. The dedup key
 * is stamped here, by the proposing node, and rides the forward hop unchanged. A forward's answer
 * is accepted only from the peer it was sent to (the request id is just a local nonce).
 *
 * A forward is stranded once its peer can no longer be the one to answer it: this node saw a
 * higher term, another leader for the term, became candidate or leader itself, or the transport
 * lost the peer. Nothing else would ever answer it (a crashed leader's `pendingForwarded` died
 * with it), so it fails with `LeadershipLost`: outcome unknown, as for a leader's own proposals
 * when it steps down. It is not re-sent: the caller retries with the same request id, and the new
 * leader's dedup cache (or the consumer's `ClientSessionTable`) keeps that exactly-once. While
 * the transport reports the known leader gone, new proposals park instead of following it.
 *
 * A leaf: the records of parked and forwarded proposals and the rules about them; the node
 * (`Proposals`) parks, sends, strands and answers.
 */
import type { CommandEntry } from "./Entries.js"
import type { DedupKey, NodeId } from "./Ids.js"
import type { RaftRole } from "./Tuning.js"
import { HEADER_RESERVE } from "./constants.js"

/** A proposal waiting for a leader (or, under a `Durable` id, for its history: unstamped). */
export interface Parked {
  readonly handle: number
  readonly command: Uint8Array
  /** `undefined`: stamp the next serial when it leaves (`DedupCache.historyKnown`). */
  readonly dedupKey: DedupKey | undefined
}

export interface InFlight {
  readonly handle: number
  readonly command: Uint8Array
  readonly dedupKey: DedupKey
  readonly sentTo: NodeId
  /** Our term when it was sent: `sentTo` was the leader we knew for that term. */
  readonly term: number
}

/** An over-budget proposal, refused before anything enters the log (exact numbers, §2.5). */
export interface Oversize {
  readonly payloadBytes: number
  readonly budgetBytes: number
  readonly reservedBytes: number
}

/**
 * Whether `command` (to be stamped `dedupKey`) can never fit a frame of `maxPayload` bytes. The
 * budget for the command itself is the frame budget less the header reserve and this entry's own
 * envelope (kind, dedup key, and index and term at their widest, so the answer does not depend on
 * how long the log happens to be). Unknown budget: it fits.
 */
export const oversize = (
  maxPayload: number | undefined,
  entrySize: (entry: CommandEntry) => number,
  command: Uint8Array,
  dedupKey: DedupKey
): Oversize | undefined => {
  if (maxPayload === undefined) return undefined
  const widest = Number.MAX_SAFE_INTEGER
  const probe: CommandEntry = { _tag: "Command", index: widest, term: widest, command, dedupKey }
  const envelope = entrySize(probe) - command.byteLength
  const budgetBytes = Math.max(0, maxPayload - HEADER_RESERVE - envelope)
  if (command.byteLength <= budgetBytes) return undefined
  return { payloadBytes: command.byteLength, budgetBytes, reservedBytes: maxPayload - budgetBytes }
}

/** A parked proposal still waits for its serial (its id's history is being replayed). */
export const hasUnstamped = (parked: ReadonlyArray<Parked>): boolean => {
  for (const p of parked) if (p.dedupKey === undefined) return true
  return false
}

/** What `strandedBy` reads of the node. */
export interface ForwarderView {
  readonly role: RaftRole
  readonly term: number
  readonly leader: NodeId | undefined
}

/** Why `f`'s peer can no longer answer it, or `undefined` while it still may. */
export const strandedBy = (node: ForwarderView, f: InFlight): string | undefined => {
  if (node.role === "Leader" || node.role === "Candidate") {
    return `this node became ${node.role.toLowerCase()} at term ${node.term} before ${f.sentTo} answered a forwarded proposal`
  }
  if (node.term > f.term) {
    return `term ${node.term} began before ${f.sentTo}, leader of term ${f.term}, answered a forwarded proposal`
  }
  if (node.leader !== undefined && node.leader !== f.sentTo) {
    return `${node.leader} leads term ${node.term}, not ${f.sentTo} to which the proposal was forwarded`
  }
  // No leader known (an election timeout at the same term, a pre-vote): the old leader may
  // still be alive and answer, so keep waiting; a real election bumps the term.
  return undefined
}
