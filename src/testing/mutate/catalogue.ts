/**
 * The bug classes `npm run mutate` plants, one at a time, in a scratch copy of the sources: the
 * classes the simulator exists to catch (issue list: Figure 8, acknowledgement before
 * durability, PreVote without stickiness, stale ReadIndex confirmation, a deposed leader's
 * proposals left pending) and the named regressions of `test/regressions` (B1–B12, the bugs their
 * README says each file was checked against). Each is an anchored patch (`Mutation.ts`): when the
 * code it targets moves, the anchor stops matching and the tool says so.
 */
import type { Mutation } from "./Mutation.js"

const DRIVER = "src/raft/engine/Driver.ts"
const WRITE_ANCHOR = "      if (ready.hasPersist && !this.ports.write(toWriteBatch(ready.persist))) {"

/** The drive loop sends the Ready's messages of type `tag` before the write they depend on. */
const sendBeforeWrite = (tag: string): string => `      if (ready.hasPersist) {
        // MUTATION: ${tag} leaves before the write it depends on is durable.
        const early = ready.messages.filter((o) => o.message._tag === "${tag}")
        ready.messages = ready.messages.filter((o) => o.message._tag !== "${tag}")
        for (const o of early) this.ports.send(o.to, o.message)
      }
${WRITE_ANCHOR}`

export const CATALOGUE: ReadonlyArray<Mutation> = [
  {
    id: "figure8",
    title: "Figure 8: commit by counting replicas of an earlier term's entry",
    source: "issue 13 §5; B1",
    patches: [{
      file: "src/raft/core/Leader.ts",
      anchor: "  if (idx > s.commitIndex && s.log.termAt(idx) === s.term) advanceCommit(s, idx)",
      replacement: "  if (idx > s.commitIndex) advanceCommit(s, idx)"
    }]
  },
  {
    id: "vote-before-durable",
    title: "vote acknowledged before it is durable (drive loop)",
    source: "issue 13 §5; B11",
    patches: [{ file: DRIVER, anchor: WRITE_ANCHOR, replacement: sendBeforeWrite("RequestVoteResponse") }]
  },
  {
    id: "append-before-durable",
    title: "append acknowledged before it is durable (drive loop)",
    source: "issue 13 §5; B8",
    patches: [{ file: DRIVER, anchor: WRITE_ANCHOR, replacement: sendBeforeWrite("AppendEntriesResponse") }]
  },
  {
    id: "prevote-leader-alive",
    title: "PreVote granted while a leader is known alive",
    source: "issue 13 §5; B6",
    patches: [{
      file: "src/raft/core/Elections.ts",
      anchor: "  if (leaderAlive) reasons.push(\"LeaderAlive\")",
      replacement: "  void leaderAlive"
    }]
  },
  {
    id: "readindex-earlier-round",
    title: "ReadIndex confirmed by a heartbeat echo from an earlier round",
    source: "issue 13 §5; B3",
    patches: [{
      file: "src/raft/core/ReadIndex.ts",
      anchor: "this.confirming[0]!.round < acked",
      replacement: "this.confirming[0]!.round <= acked"
    }]
  },
  {
    id: "deposed-leader-pending",
    title: "deposed leader's proposals left pending, resolved by another leader's entry at the index",
    source: "issue 13 §5",
    patches: [
      {
        file: "src/raft/core/Roles.ts",
        anchor: `  for (const [, handle] of s.pendingLocal) {
    s.ready.resolutions.push({ handle, outcome: { _tag: "LeadershipLost", reason: why } })
  }
  s.pendingLocal.clear()
`,
        replacement: "  // MUTATION: local proposals stay pending across the step-down.\n"
      },
      {
        file: "src/raft/core/LocalLog.ts",
        anchor: "    if (s.role === \"Leader\" && entry._tag === \"Command\") answerCommitted(s, entry)",
        replacement: "    if ((s.role === \"Leader\" || s.pendingLocal.has(entry.index)) && entry._tag === \"Command\") answerCommitted(s, entry)"
      }
    ]
  },
  {
    id: "noop-before-reads",
    title: "reads served before the leader's own-term no-op commits",
    source: "B2 (test/regressions/B02-noop-before-reads.test.ts)",
    patches: [{
      file: "src/raft/core/Requests.ts",
      anchor: "const noOpCommitted = (s: NodeState): boolean => s.log.termAt(s.commitIndex) === s.term",
      replacement: "const noOpCommitted = (s: NodeState): boolean => s.commitIndex >= 0"
    }]
  },
  {
    id: "read-one-echo",
    title: "one follower's echo confirms a read (no quorum)",
    source: "B4 (test/regressions/B04-minority-leader-reads.test.ts)",
    patches: [{
      file: "src/raft/core/ReadIndex.ts",
      anchor: "    const acked = quorumIndex(config, (id) => (id === self ? this.round : progress.get(id)?.echoedRound ?? 0))",
      replacement: "    void quorumIndex\n    void config\n    void self\n    const acked = Math.max(0, ...[...progress.values()].map((p) => p.echoedRound))"
    }]
  },
  {
    id: "membership-own-term",
    title: "membership change accepted before the leader's own-term entry commits",
    source: "B5 (test/regressions/B05-single-server-membership.test.ts)",
    patches: [{
      file: "src/raft/core/Membership.ts",
      anchor: "    node.log.termAt(node.commitIndex) !== node.term\n",
      replacement: "    node.log.termAt(node.commitIndex) === -1\n"
    }]
  },
  {
    id: "vote-no-stickiness",
    title: "RequestVote granted while a leader is known alive (no stickiness)",
    source: "B6, B10 (test/regressions/B06-…, B10-…)",
    patches: [{
      file: "src/raft/core/Voting.ts",
      anchor: "    if (s.leaderAlive() && !m.leadershipTransfer) {",
      replacement: "    if (s.leaderAlive() && !m.leadershipTransfer && m.term < 0) {"
    }]
  },
  {
    id: "no-snapshot-when-compacted",
    title: "no InstallSnapshot when the follower's next entry was compacted",
    source: "B7 (test/regressions/B07-snapshot-compaction-races.test.ts)",
    patches: [{
      file: "src/raft/core/Leader.ts",
      anchor: "    if (prev < s.log.snapshotIndex) sendSnapshot(s, peer, pr)",
      replacement: "    if (prev < 0) sendSnapshot(s, peer, pr)"
    }]
  },
  {
    id: "snapshot-rule6-any-term",
    title: "snapshot keeps the log after it whatever the term at its index (rule 6)",
    source: "B7 (test/regressions/B07-snapshot-compaction-races.test.ts)",
    patches: [{
      file: "src/raft/core/Follower.ts",
      anchor: "  persistSnapshot(s, stored, s.log.termAt(r.index) === r.term)",
      replacement: "  persistSnapshot(s, stored, s.log.termAt(r.index) !== undefined)"
    }]
  },
  {
    id: "no-election-restriction",
    title: "votes granted to a candidate whose log is behind (no election restriction)",
    source: "B8 (test/regressions/B08-lost-unsynced-writes.test.ts)",
    patches: [
      {
        file: "src/raft/core/Elections.ts",
        anchor: "  if (leaderAlive) reasons.push(\"LeaderAlive\")\n  if (!log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) reasons.push(\"LogNotUpToDate\")",
        replacement: "  if (leaderAlive) reasons.push(\"LeaderAlive\")"
      },
      {
        file: "src/raft/core/Elections.ts",
        anchor: "  if (votedFor !== null && votedFor !== from) reasons.push(\"AlreadyVoted\")\n  if (!log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) reasons.push(\"LogNotUpToDate\")",
        replacement: "  if (votedFor !== null && votedFor !== from) reasons.push(\"AlreadyVoted\")"
      }
    ]
  },
  {
    id: "no-dedup-cache",
    title: "a retried proposal is appended again in the same term (no dedup cache)",
    source: "B9 (test/regressions/B09-client-retries.test.ts)",
    patches: [{
      file: "src/raft/core/DedupCache.ts",
      anchor: "  const done = cache.committedEntry(key)\n",
      replacement: "  if (key.requestId >= 0) return false\n  const done = cache.committedEntry(key)\n"
    }]
  },
  {
    id: "vote-not-persisted",
    title: "vote granted without persisting it",
    source: "B11 (test/regressions/B11-vote-durable-before-reply.test.ts)",
    patches: [{
      file: "src/raft/core/Voting.ts",
      anchor: "    if (s.votedFor !== from) {\n      s.votedFor = from\n      persistHardState(s)\n    }",
      replacement: "    if (s.votedFor !== from) {\n      s.votedFor = from\n    }"
    }]
  },
  {
    id: "commit-index-regression",
    title: "a follower's commit index follows a stale leaderCommit down",
    source: "B12 (test/regressions/B12-commit-index-regression.test.ts)",
    patches: [{
      file: "src/raft/core/Follower.ts",
      anchor: "  if (commit > s.commitIndex) advanceCommit(s, commit)",
      replacement: "  if (commit !== s.commitIndex) s.commitIndex = commit"
    }]
  },
  {
    id: "stale-term-append",
    title: "AppendEntries from a stale term accepted",
    source: "B12 (test/regressions/B12-commit-index-regression.test.ts)",
    patches: [{
      file: "src/raft/core/Follower.ts",
      anchor: "  if (term < s.term) return \"Stale\"",
      replacement: "  if (term < 0) return \"Stale\""
    }]
  }
]
