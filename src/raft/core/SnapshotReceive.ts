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
 */
import type { InstallSnapshot } from "./Messages.js"
import type { ConfigPayload } from "./Entries.js"
import type { NodeId } from "./Ids.js"
import { acceptLeaderContact, checkLeaderFrame } from "./LeaderContact.js"
import type { RaftCore } from "./RaftCore.js"
import { advanceCommit, recomputeConfig } from "./LocalLog.js"
import { persistSnapshot } from "./Snapshots.js"

const MAX_INDEX = Number.MAX_SAFE_INTEGER

/** A snapshot being reassembled from chunks. */
export interface Reassembly {
  readonly index: number
  readonly term: number
  readonly buffer: Uint8Array
  /** Bytes received contiguously from offset 0. */
  held: number
}

export const onInstallSnapshot = (core: RaftCore, from: NodeId, m: InstallSnapshot): void => {
  // Plausibility of the frame itself, before any state changes.
  const len = m.data.byteLength
  if (m.lastIncludedIndex < 1 || m.lastIncludedIndex > MAX_INDEX) {
    return core.refuse(from, "InstallSnapshot", "InstallSnapshotIndexOutOfRange")
  }
  if (m.offset > m.totalBytes || len > m.totalBytes - m.offset || (m.done && m.offset + len !== m.totalBytes)) {
    return core.refuse(from, "InstallSnapshot", "InstallSnapshotIndexOutOfRange")
  }
  // Every entry has a term ≥ 1, and none above the term of the leader that sends it.
  if (m.lastIncludedTerm < 1 || m.lastIncludedTerm > m.term) {
    return core.refuse(from, "InstallSnapshot", "InstallSnapshotTermOutOfRange")
  }
  const verdict = checkLeaderFrame(core, from, m.term, "InstallSnapshot")
  if (verdict === "Stale") return reply(core, from, m.lastIncludedIndex, 0, 0)
  if (verdict === "Refused") return
  if (contradictsCommitted(core, m.lastIncludedIndex, m.lastIncludedTerm)) {
    return core.refuse(from, "InstallSnapshot", "InstallSnapshotBelowCommittedTermFloor")
  }
  acceptLeaderContact(core, from, m.term)

  if (m.lastIncludedIndex <= core.commitIndex) {
    // We already hold (committed) everything it covers: acknowledge it whole, install nothing.
    if (core.reassembly?.index === m.lastIncludedIndex) core.reassembly = undefined
    return reply(core, from, m.lastIncludedIndex, m.totalBytes, m.round)
  }
  const ceiling = core.cfg.snapshotTotalCeiling
  if (m.totalBytes > ceiling) return rejectOversize(core, from, m, ceiling)

  let r = core.reassembly
  const same = r !== undefined && r.index === m.lastIncludedIndex && r.term === m.lastIncludedTerm &&
    r.buffer.byteLength === m.totalBytes
  if (m.offset === 0) {
    if (r === undefined || !same) {
      r = { index: m.lastIncludedIndex, term: m.lastIncludedTerm, buffer: new Uint8Array(m.totalBytes), held: 0 }
      core.reassembly = r
    } else {
      r.held = 0
    }
  } else if (r === undefined || !same || m.offset > r.held) {
    // A chunk of another snapshot, or past a gap: say what we actually hold of this one.
    return reply(core, from, m.lastIncludedIndex, same ? r!.held : 0, m.round)
  }
  // Take what the chunk adds beyond what we hold (a resent chunk may overlap or duplicate it).
  const skip = r.held - m.offset
  if (skip < len) {
    r.buffer.set(m.data.subarray(skip), r.held)
    r.held = m.offset + len
  }
  if (r.held === m.totalBytes) install(core, r, m.config)
  reply(core, from, m.lastIncludedIndex, r.held, m.round)
}

/**
 * Would installing a snapshot at (`index`, `term`) contradict what we know is committed? Our
 * committed entry at `index` must have `term`; a snapshot beyond our commit point must have a
 * term at least that of our last committed entry (terms never decrease along a log).
 */
const contradictsCommitted = (core: RaftCore, index: number, term: number): boolean => {
  const commit = core.commitIndex
  if (index <= commit) {
    const ours = core.log.termAt(index)
    return ours !== undefined && ours !== term
  }
  const floor = core.log.termAt(commit)
  return floor !== undefined && term < floor
}

const rejectOversize = (core: RaftCore, from: NodeId, m: InstallSnapshot, ceiling: number): void => {
  if (core.reassembly?.index === m.lastIncludedIndex) core.reassembly = undefined
  core.metric({ _tag: "SnapshotRejectedSizeCeiling", attemptedTotal: m.totalBytes, ceiling })
  core.trace({
    _tag: "SnapshotRejected",
    at: core.now,
    node: core.id,
    from,
    lastIncludedIndex: m.lastIncludedIndex,
    attemptedTotal: m.totalBytes,
    ceiling
  })
  reply(core, from, m.lastIncludedIndex, 0, m.round)
}

const install = (core: RaftCore, r: Reassembly, config: ConfigPayload): void => {
  core.reassembly = undefined
  const stored = { meta: { lastIncludedIndex: r.index, lastIncludedTerm: r.term, config }, state: r.buffer }
  // Rule 6: an entry at the snapshot's index with the snapshot's term means the log after it is
  // the leader's too (Log Matching): keep it. Rule 7: otherwise discard the whole log.
  persistSnapshot(core, stored, core.log.termAt(r.index) === r.term)
  advanceCommit(core, r.index)
  // The consumer replaces its state with the snapshot, then applies what commits after it.
  core.ready.install = stored
  core.lastEmitted = r.index
  recomputeConfig(core)
}

const reply = (core: RaftCore, to: NodeId, lastIncludedIndex: number, nextOffset: number, echoedRound: number): void => {
  core.send(to, { _tag: "InstallSnapshotResponse", term: core.term, lastIncludedIndex, nextOffset, echoedRound })
}
