/**
 * Raft safety invariants, checked as the simulation runs (reference §4.2): each is the property
 * of Figure 3 or the TLA+ invariant it names. A violation is recorded with the virtual time and a
 * description; the run fails on the first one. Membership invariants live in
 * `MembershipInvariants.ts`; both share this checker's record of the committed log.
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { Committed, LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { WriteBatch } from "../../../services/raft/RaftStorage.js"
import { ReplayOracle, sameBytes } from "./ReplayOracle.js"
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
  /** The highest commit index any node ever held: what a read invoked now must cover (§4.2 #9). */
  maxCommit = 0
  /** The global committed log replayed into a reference state machine (snapshot checks). */
  readonly oracle = new ReplayOracle()
  /** `${term}/${clientId}/${requestId}` → the index a command with that dedup key committed at. */
  private readonly keyIndex = new Map<string, number>()
  /** node → the index its state machine last reached (applies move forward one by one). */
  private readonly lastApplied = new Map<NodeId, number>()
  /** node → term → the vote it made durable in that term (no double vote, across restarts). */
  private readonly durableVote = new Map<NodeId, Map<number, NodeId>>()
  private readonly durableTerm = new Map<NodeId, number>()
  private readonly lastCommit = new Map<NodeId, number>()
  private readonly lastRole = new Map<NodeId, string>()
  /** node → (term, lastIndex) while it leads: a leader never shrinks or rewrites its log. */
  private readonly leaderLog = new Map<NodeId, { term: number; last: number; lastTerm: number }>()
  appliedCount = 0

  constructor(private readonly cluster: SimCluster) {}

  fail(invariant: string, detail: string): void {
    this.violations.push({ at: this.cluster.now, invariant, detail })
  }

  /** At least the term in which `index` was committed (see `commitTerm`). */
  commitTermOf(index: number): number {
    return this.commitTerm.get(index) ?? Infinity
  }

  onStart(node: SimNode): void {
    this.lastCommit.set(node.id, node.core!.commitIndex)
    this.lastApplied.set(node.id, node.sm.applied)
    this.lastRole.delete(node.id)
    this.leaderLog.delete(node.id)
  }

  onPersist(node: SimNode, batch: WriteBatch): void {
    // No committed entry is ever overwritten: a truncation may remove a stale entry at an index
    // that is committed elsewhere (with a different entry), never the committed entry itself.
    // Entries a snapshot in the same batch covers are discarded, not overwritten.
    const covered = batch.snapshot?.meta.lastIncludedIndex ?? 0
    if (batch.truncateFrom !== undefined && batch.truncateFrom <= this.highestCommitted) {
      for (const e of node.disk.currentState().entries) {
        if (e.index < batch.truncateFrom || e.index <= covered || e.index > this.highestCommitted) continue
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
    // Nothing leaves before the write it depends on is acknowledged by the storage (what a crash
    // keeps of an acknowledged write is the disk model's business): the term a message carries
    // (a pre-vote proposes one and adopts none; a vouch request or vouch names another leader's),
    // a vote it grants (B11), entries it acknowledges.
    const acked = node.ackedHard
    if (m._tag !== "PreVote" && m._tag !== "VouchRequest" && m._tag !== "Vouch" && "term" in m && m.term > acked.term) {
      this.fail("TermDurableBeforeSend", `${node.id} sends ${m._tag} at term ${m.term} while its acknowledged term is ${acked.term}`)
    }
    // A grant is safe once the vote is durable, or once a later term is (the node can never vote
    // in this term again: one turn may grant at term t, then adopt t + 1 and write only that).
    if (m._tag === "RequestVoteResponse" && m.voteGranted && acked.term <= m.term) {
      const held = acked.term === m.term ? acked.votedFor : null
      if (held !== to) this.fail("VoteDurableBeforeReply", `${node.id} grants ${to} in term ${m.term} but stored vote is ${held}`)
    }
    if (m._tag === "AppendEntriesResponse" && m.success && m.matchIndex > node.ackedLast) {
      this.fail(
        "AppendDurableBeforeAck",
        `${node.id} acknowledges entries through ${m.matchIndex} to ${to} but its storage acknowledged only through ${node.ackedLast}`
      )
    }
  }

  onApplied(node: SimNode, item: Committed, entry: LogEntry | undefined): void {
    this.appliedCount++
    const before = this.lastApplied.get(node.id) ?? 0
    if (item._tag === "Install") {
      // `Ready.install` replaces the state with a snapshot beyond what the node applied, and
      // equal to the committed log replayed to its index.
      const through = item.snapshot.throughIndex
      this.lastApplied.set(node.id, through)
      if (through <= before) this.fail("InstallMovesForward", `${node.id} installs a snapshot at ${through} after applying ${before}`)
      this.checkAgainstReplay(node, "InstallMatchesReplay", through, item.snapshot.state)
      return
    }
    const index = item._tag === "Entry" ? item.entry.index : item.index
    this.lastApplied.set(node.id, index)
    // Entries reach the consumer in order, without gaps, after any installed snapshot.
    if (index !== before + 1) this.fail("AppliedInOrder", `${node.id} applied ${index} right after ${before}`)
    if (entry === undefined) return this.fail("AppliedIsInLog", `${node.id} applied ${index} which its log lacks`)
    const key = entryKey(entry)
    const known = this.committed.get(index)
    // State Machine Safety: no two nodes apply different entries at one index.
    if (known === undefined) {
      this.committed.set(index, key)
      this.commitTerm.set(index, node.core?.term ?? Infinity)
      if (index > this.highestCommitted) this.highestCommitted = index
      this.oracle.record(entry)
      if (entry._tag === "Command") {
        // Thesis §6.3, the leader's dedup cache: within its term a leader answers a retried key
        // from the entry it already has, so one term never commits one key twice (across terms
        // it may: the consumer's session table filters those).
        const dedup = `${entry.term}/${entry.dedupKey.clientId}/${entry.dedupKey.requestId}`
        const first = this.keyIndex.get(dedup)
        if (first !== undefined) this.fail("ExactlyOnceWithinTerm", `key ${dedup} committed at ${first} and again at ${index}`)
        else this.keyIndex.set(dedup, index)
      }
    } else if (known !== key) {
      this.fail("StateMachineSafety", `${node.id} applied ${key} at ${index}, another node applied ${known}`)
    }
  }

  /** A consumer published a snapshot: it must equal the replay, and carry the config at its index. */
  onCompacted(node: SimNode, index: number, state: Uint8Array): void {
    const core = node.core!
    if (index > core.commitIndex) this.fail("SnapshotLeCommit", `${node.id} published a snapshot at ${index} > commit ${core.commitIndex}`)
    this.checkAgainstReplay(node, "SnapshotMatchesReplay", index, state)
    const stored = core.snapshot
    if (stored === undefined || stored.meta.lastIncludedIndex !== index) {
      return this.fail("SnapshotRecorded", `${node.id} compacted to ${index} but holds snapshot ${stored?.meta.lastIncludedIndex}`)
    }
    // §7: the snapshot records the configuration as of its last included index.
    const expected = this.oracle.configAt(index)
    if (expected !== undefined && !sameConfig(expected, stored.meta.config)) {
      this.fail("SnapshotConfig", `${node.id} snapshot at ${index} records ${describeConfig(stored.meta.config)}, committed log says ${describeConfig(expected)}`)
    }
  }

  private checkAgainstReplay(node: SimNode, invariant: string, index: number, state: Uint8Array): void {
    const reference = this.oracle.stateAt(index)
    if (reference === undefined) {
      return this.fail(invariant, `${node.id} snapshot at ${index} is beyond the known committed log (${this.oracle.contiguousThrough})`)
    }
    if (!sameBytes(reference, state)) this.fail(invariant, `${node.id} snapshot at ${index} differs from the committed log replayed to ${index}`)
  }

  /**
   * §4.2 #9: a linearizable read is served at a fence covering every index committed when it was
   * invoked (`commitAtCall` = `maxCommit` then). The linearizability checker judges the values.
   */
  checkReadFence(node: SimNode, fence: number, commitAtCall: number): void {
    if (fence < commitAtCall) this.fail("ReadFenceCoversCommit", `${node.id} got read fence ${fence} < commit index ${commitAtCall} known at invocation`)
  }

  onStep(node: SimNode): void {
    const core = node.core
    if (core === undefined) return
    // Monotonic commit within an incarnation; applied ≤ committed; snapshot ≤ commit.
    const prevCommit = this.lastCommit.get(node.id) ?? 0
    if (core.commitIndex < prevCommit) this.fail("MonotonicCommit", `${node.id} commit ${prevCommit} → ${core.commitIndex}`)
    this.lastCommit.set(node.id, core.commitIndex)
    if (core.commitIndex > this.maxCommit) this.maxCommit = core.commitIndex
    if (node.sm.applied > core.commitIndex) this.fail("AppliedLeCommitted", `${node.id} applied ${node.sm.applied} > commit ${core.commitIndex}`)
    if (core.log.snapshotIndex > core.commitIndex) this.fail("SnapshotLeCommit", `${node.id} snapshot ${core.log.snapshotIndex} > commit ${core.commitIndex}`)
    // openraft's ordering: snapshot ≤ applied (the consumer published or installed it).
    // (Not while a write is in flight: an installed snapshot reaches the consumer once it is durable.)
    if (node.writing === undefined && core.log.snapshotIndex > node.sm.applied) this.fail("SnapshotLeApplied", `${node.id} snapshot ${core.log.snapshotIndex} > applied ${node.sm.applied}`)
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
      // (An entry the leader itself compacted since is committed and gone: its term is unknown.)
      const before = this.leaderLog.get(node.id)!
      const compacted = before.last < core.log.snapshotIndex
      if (core.log.lastIndex < before.last || (!compacted && core.log.termAt(before.last) !== before.lastTerm)) {
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

const sameSet = <A>(a: ReadonlySet<A>, b: ReadonlySet<A>): boolean => a.size === b.size && [...a].every((x) => b.has(x))

export const sameConfig = (a: ConfigPayload, b: ConfigPayload): boolean =>
  sameSet(a.new.voters, b.new.voters) && sameSet(a.new.learners, b.new.learners) &&
  (a.old === undefined
    ? b.old === undefined
    : b.old !== undefined && sameSet(a.old.voters, b.old.voters) && sameSet(a.old.learners, b.old.learners))

export const describeConfig = (c: ConfigPayload): string => {
  const half = (h: ConfigPayload["new"]) =>
    `{${[...h.voters].sort().join(",")}${h.learners.size > 0 ? ` +learners ${[...h.learners].sort().join(",")}` : ""}}`
  return c.old === undefined ? half(c.new) : `joint ${half(c.old)} → ${half(c.new)}`
}
