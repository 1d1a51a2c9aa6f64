/**
 * Raft safety invariants, checked as the simulation runs (reference §4.2): each is the property
 * of Figure 3 or the TLA+ invariant it names. A violation is recorded with the virtual time and a
 * description; the run fails on the first one.
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { Committed, LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { PersistBatch } from "../../raft/core/Ready.js"
import type { SimCluster, SimNode, SimObserver } from "./SimCluster.js"

export interface Violation {
  readonly at: number
  readonly invariant: string
  readonly detail: string
}

/** A content fingerprint of an entry: two entries at one index are "the same" iff these match. */
export const entryKey = (e: LogEntry): string => {
  switch (e._tag) {
    case "Command":
      return `${e.term}/C/${e.dedupKey.clientId}/${e.dedupKey.requestId}/${e.command.byteLength}`
    case "NoOp":
      return `${e.term}/N`
    case "Config":
      return `${e.term}/G`
  }
}

export class InvariantChecker implements SimObserver {
  readonly violations: Array<Violation> = []
  /** term → the leader elected in it, over the whole run (Election Safety). */
  private readonly leaderOfTerm = new Map<number, NodeId>()
  /** index → fingerprint of the entry committed there, as first applied by any node. */
  readonly committed = new Map<number, string>()
  /**
   * index → the term of the node that first applied it: at least the term in which the entry was
   * committed, so requiring it only of leaders of higher terms never flags a legal stale leader.
   */
  private readonly commitTerm = new Map<number, number>()
  private highestCommitted = 0
  /** node → term → the vote it made durable in that term (no double vote, across restarts). */
  private readonly durableVote = new Map<NodeId, Map<number, NodeId>>()
  private readonly durableTerm = new Map<NodeId, number>()
  private readonly lastCommit = new Map<NodeId, number>()
  private readonly lastRole = new Map<NodeId, string>()
  /** node → (term, lastIndex) while it leads: a leader never shrinks or rewrites its log. */
  private readonly leaderLog = new Map<NodeId, { term: number; last: number; lastTerm: number }>()
  appliedCount = 0

  constructor(private readonly cluster: SimCluster) {}

  private fail(invariant: string, detail: string): void {
    this.violations.push({ at: this.cluster.now, invariant, detail })
  }

  onStart(node: SimNode): void {
    this.lastCommit.set(node.id, node.core!.commitIndex)
    this.lastRole.delete(node.id)
    this.leaderLog.delete(node.id)
  }

  onPersist(node: SimNode, batch: PersistBatch): void {
    // No committed entry is ever overwritten: a truncation may remove a stale entry at an index
    // that is committed elsewhere (with a different entry), never the committed entry itself.
    if (batch.truncateFrom !== undefined && batch.truncateFrom <= this.highestCommitted) {
      for (const e of node.disk.currentState().entries) {
        if (e.index < batch.truncateFrom || e.index > this.highestCommitted) continue
        if (this.committed.get(e.index) === entryKey(e)) {
          this.fail("NoCommittedEntryOverwritten", `${node.id} truncates committed entry ${e.index} (${entryKey(e)})`)
          break
        }
      }
    }
    const hs = batch.hardState
    if (hs !== undefined) {
      // Monotonic durable term, across restarts.
      const prev = this.durableTerm.get(node.id) ?? 0
      if (hs.term < prev) this.fail("MonotonicTerm", `${node.id} persists term ${hs.term} after ${prev}`)
      this.durableTerm.set(node.id, hs.term)
      if (hs.votedFor !== null) {
        let votes = this.durableVote.get(node.id)
        if (votes === undefined) this.durableVote.set(node.id, votes = new Map())
        const earlier = votes.get(hs.term)
        if (earlier !== undefined && earlier !== hs.votedFor) {
          this.fail("NoDoubleVote", `${node.id} voted for ${earlier} and ${hs.votedFor} in term ${hs.term}`)
        }
        votes.set(hs.term, hs.votedFor)
      }
    }
  }

  onSend(node: SimNode, to: NodeId, m: RaftMessage): void {
    // A vote grant leaves only after the vote is durable (B11): the disk must already hold it.
    if (m._tag === "RequestVoteResponse" && m.voteGranted) {
      // The storage acknowledged the write (what a crash keeps is the disk model's business).
      const stored = node.disk.currentState().hardState
      const held = stored.term === m.term ? stored.votedFor : null
      if (held !== to) this.fail("VoteDurableBeforeReply", `${node.id} grants ${to} in term ${m.term} but stored vote is ${held}`)
    }
  }

  onApplied(node: SimNode, item: Committed, entry: LogEntry | undefined): void {
    this.appliedCount++
    if (item._tag === "Install") return
    const index = item._tag === "Entry" ? item.entry.index : item.index
    if (entry === undefined) return this.fail("AppliedIsInLog", `${node.id} applied ${index} which its log lacks`)
    const key = entryKey(entry)
    const known = this.committed.get(index)
    // State Machine Safety: no two nodes apply different entries at one index.
    if (known === undefined) {
      this.committed.set(index, key)
      this.commitTerm.set(index, node.core?.term ?? Infinity)
      if (index > this.highestCommitted) this.highestCommitted = index
    } else if (known !== key) {
      this.fail("StateMachineSafety", `${node.id} applied ${key} at ${index}, another node applied ${known}`)
    }
  }

  onStep(node: SimNode): void {
    const core = node.core
    if (core === undefined) return
    // Monotonic commit within an incarnation; applied ≤ committed; snapshot ≤ commit.
    const prevCommit = this.lastCommit.get(node.id) ?? 0
    if (core.commitIndex < prevCommit) this.fail("MonotonicCommit", `${node.id} commit ${prevCommit} → ${core.commitIndex}`)
    this.lastCommit.set(node.id, core.commitIndex)
    if (node.sm.applied > core.commitIndex) this.fail("AppliedLeCommitted", `${node.id} applied ${node.sm.applied} > commit ${core.commitIndex}`)
    if (core.log.snapshotIndex > core.commitIndex) this.fail("SnapshotLeCommit", `${node.id} snapshot ${core.log.snapshotIndex} > commit ${core.commitIndex}`)
    if (core.commitIndex > core.log.lastIndex) this.fail("CommitLeLastIndex", `${node.id} commit ${core.commitIndex} > last ${core.log.lastIndex}`)

    const wasLeader = this.lastRole.get(node.id) === "Leader"
    this.lastRole.set(node.id, core.role)
    if (core.role !== "Leader") {
      this.leaderLog.delete(node.id)
      return
    }
    if (!wasLeader || this.leaderLog.get(node.id)?.term !== core.term) {
      // Election Safety: at most one leader per term over the whole run.
      const other = this.leaderOfTerm.get(core.term)
      if (other !== undefined && other !== node.id) this.fail("ElectionSafety", `${node.id} and ${other} both lead term ${core.term}`)
      this.leaderOfTerm.set(core.term, node.id)
      // Leader Completeness: a leader holds every entry committed in an earlier term. (A stale
      // candidate may still win an older term after newer entries committed; that is legal.)
      for (const [index, key] of this.committed) {
        if (index <= core.log.snapshotIndex || this.commitTerm.get(index)! >= core.term) continue
        const e = core.log.entry(index)
        if (e === undefined || entryKey(e) !== key) {
          this.fail("LeaderCompleteness", `${node.id} leads term ${core.term} without committed entry ${index} (${key})`)
          break
        }
      }
    } else {
      // Leader Append-Only: while it leads, the log only grows and its last entry never changes.
      const before = this.leaderLog.get(node.id)!
      if (core.log.lastIndex < before.last || core.log.termAt(before.last) !== before.lastTerm) {
        this.fail("LeaderAppendOnly", `${node.id} rewrote its log while leading term ${core.term}`)
      }
    }
    this.leaderLog.set(node.id, { term: core.term, last: core.log.lastIndex, lastTerm: core.log.lastTerm })
  }

  /** Log Matching over every pair of live nodes (end of run): same index and term ⇒ same prefix. */
  checkLogMatching(): void {
    const logs = this.cluster.up.map((n) => n.core!)
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const x = logs[a]!
        const y = logs[b]!
        const from = Math.max(x.log.snapshotIndex, y.log.snapshotIndex) + 1
        const to = Math.min(x.log.lastIndex, y.log.lastIndex)
        let lastMatch = 0
        for (let i = to; i >= from; i--) {
          if (x.log.termAt(i) === y.log.termAt(i)) {
            lastMatch = i
            break
          }
        }
        for (let i = from; i <= lastMatch; i++) {
          if (entryKey(x.log.entry(i)!) !== entryKey(y.log.entry(i)!)) {
            this.fail("LogMatching", `${x.id} and ${y.id} agree at ${lastMatch} but differ at ${i}`)
            return
          }
        }
      }
    }
  }
}
