/**
 * A follower (or learner) receiving InstallSnapshot (§7 receiver rules; chunking as the leader
 * sends it, `Snapshots.ts`).
 *
 * Order of checks: what the frame itself proves impossible (a byte range outside the snapshot, a
 * snapshot term above the frame's term), then the shared leader-contact rules (§5.1 term rule,
 * one leader per term), then what our committed log disproves (a snapshot contradicting an entry
 * we know is committed). A refused frame changes nothing.
 *
 * Reassembly is keyed by the snapshot's (index, term, size): a chunk at offset 0 restarts it; a
 * chunk of a different snapshot, or one past a gap, makes the follower re-advertise what it holds
 * so the leader resumes from there. A snapshot larger than `snapshotTotalCeiling` is refused
 * (buffer discarded, 0 advertised, `SnapshotRejectedSizeCeiling` metric and trace).
 *
 * Completion persists the snapshot, keeps the log suffix if our entry at `lastIncludedIndex` has
 * the snapshot's term (rule 6) or wipes the log (rule 7), raises commit, adopts the snapshot's
 * membership (unless a kept config entry above it overrides it), and hands the consumer
 * `Committed.Install` ahead of any entry committed after it.
 *
 * A leaf: the frame checks and the reassembly; the node (`Follower`) replies, installs and follows.
 */
import type { RefusalGate } from "./Events.js"
import type { InstallSnapshot } from "./Messages.js"
import type { RaftLog } from "./RaftLog.js"

const MAX_INDEX = Number.MAX_SAFE_INTEGER

/** A snapshot being reassembled from chunks. */
export interface Reassembly {
  readonly index: number
  readonly term: number
  readonly buffer: Uint8Array
  /** Bytes received contiguously from offset 0. */
  held: number
}

/** What the frame itself proves impossible (before any state changes), or `undefined`. */
export const frameProblem = (m: InstallSnapshot): RefusalGate | undefined => {
  const len = m.data.byteLength
  if (m.lastIncludedIndex < 1 || m.lastIncludedIndex > MAX_INDEX) return "InstallSnapshotIndexOutOfRange"
  if (m.offset > m.totalBytes || len > m.totalBytes - m.offset || (m.done && m.offset + len !== m.totalBytes)) {
    return "InstallSnapshotIndexOutOfRange"
  }
  // Every entry has a term ≥ 1, and none above the term of the leader that sends it.
  if (m.lastIncludedTerm < 1 || m.lastIncludedTerm > m.term) return "InstallSnapshotTermOutOfRange"
  return undefined
}

/**
 * Would installing a snapshot at (`index`, `term`) contradict what we know is committed? Our
 * committed entry at `index` must have `term`; a snapshot beyond our commit point must have a
 * term at least that of our last committed entry (terms never decrease along a log).
 */
export const contradictsCommitted = (log: RaftLog, commitIndex: number, index: number, term: number): boolean => {
  if (index <= commitIndex) {
    const ours = log.termAt(index)
    return ours !== undefined && ours !== term
  }
  const floor = log.termAt(commitIndex)
  return floor !== undefined && term < floor
}

/** The reassembly after a chunk, and the bytes to advertise; `complete` when the whole snapshot is held. */
export interface ChunkTaken {
  readonly reassembly: Reassembly | undefined
  readonly held: number
  readonly complete: boolean
}

/**
 * Takes chunk `m` into `current`: a chunk at offset 0 (re)starts the reassembly; a chunk of
 * another snapshot, or past a gap, changes nothing and advertises what we actually hold of this
 * one; otherwise the chunk adds what it holds beyond our bytes (a resent chunk may overlap).
 */
export const takeChunk = (current: Reassembly | undefined, m: InstallSnapshot): ChunkTaken => {
  let r = current
  const same = r !== undefined && r.index === m.lastIncludedIndex && r.term === m.lastIncludedTerm &&
    r.buffer.byteLength === m.totalBytes
  if (m.offset === 0) {
    if (r === undefined || !same) {
      r = { index: m.lastIncludedIndex, term: m.lastIncludedTerm, buffer: new Uint8Array(m.totalBytes), held: 0 }
    } else {
      r.held = 0
    }
  } else if (r === undefined || !same || m.offset > r.held) {
    return { reassembly: current, held: same ? r!.held : 0, complete: false }
  }
  const len = m.data.byteLength
  const skip = r.held - m.offset
  if (skip < len) {
    r.buffer.set(m.data.subarray(skip), r.held)
    r.held = m.offset + len
  }
  return { reassembly: r, held: r.held, complete: r.held === m.totalBytes }
}
