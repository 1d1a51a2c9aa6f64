/**
 * Frames a correct peer never sends (corrupt, forged or replayed), injected into a live cluster:
 * each is refused with its named gate, changes nothing, and the cluster keeps committing.
 */
import { describe, expect, it } from "@effect/vitest"
import type { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import type { RefusalGate } from "../../../services/raft/RaftTrace.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { append, awaitLeader, bytes, cmd, committedCommands, detached, logTerms, nid, noop, voters } from "./helpers.js"

const live = () => {
  const c = voters(3, { seed: 41, config: { maxTermJump: 100 } })
  const l = awaitLeader(c)
  c.propose(l.id, bytes("before"))
  c.advance(100)
  const [f, g] = c.options.ids.filter((id) => id !== l.id) as [string, string]
  return { c, l, f, g }
}

/** Snapshot of everything a refused frame must leave untouched on `id`. */
const stateOf = (c: CoreCluster, id: string) => {
  const n = c.node(id)
  return {
    role: n.role, term: n.term, votedFor: n.votedFor, leader: n.leader, leaderForTerm: n.leaderForTerm,
    commitIndex: n.commitIndex, log: logTerms(n), contact: n.leaderContactAt,
    disk: JSON.stringify(c.disks.get(nid(id))), committed: c.committed.get(nid(id))!.length
  }
}

/** Injects `m` into `to` from `from`, expects exactly one refusal with `gate`, no reply and no state change. */
const expectRefused = (c: CoreCluster, to: string, from: string, m: RaftMessage, gate: RefusalGate) => {
  const before = stateOf(c, to)
  const sent = c.sent.length
  const traced = c.traces.length
  c.inject(to, from, m)
  expect(c.tracesOf("FrameRefused", traced)).toEqual([
    expect.objectContaining({ node: to, from, messageType: m._tag, gate })
  ])
  expect(c.sent.slice(sent).filter((s) => s.from === to)).toEqual([])
  expect(stateOf(c, to)).toEqual(before)
}

const expectStillCommits = (c: CoreCluster, tag: string) => {
  const l = awaitLeader(c)
  c.propose(l.id, bytes(tag))
  c.advance(200)
  for (const id of c.options.ids) expect(committedCommands(c, id)).toContain(tag)
}

describe("hostile frames", () => {
  it("a term beyond maxTermJump is refused at the dispatch boundary (ImplausibleTermJump); exactly the jump passes", () => {
    const { c, l, f, g } = live()
    const t = c.node(f).term
    expectRefused(c, f, l.id, append({ term: t + 101, prevLogIndex: 0, prevLogTerm: 0 }), "ImplausibleTermJump")
    expectRefused(c, f, g, { _tag: "RequestVote", term: t + 101, lastLogIndex: 99, lastLogTerm: t + 101, leadershipTransfer: false }, "ImplausibleTermJump")
    expectRefused(c, l.id, g, { _tag: "RequestVoteResponse", term: t + 5000, voteGranted: false }, "ImplausibleTermJump")
    expect(l.role).toBe("Leader")
    // At exactly +maxTermJump the frame reaches the handler: stickiness denies it, term untouched.
    c.inject(f, g, { _tag: "RequestVote", term: t + 100, lastLogIndex: 99, lastLogTerm: t, leadershipTransfer: false })
    expect(c.tracesOf("VoteDenied").at(-1)).toMatchObject({ from: f, to: g, term: t + 100, reasons: ["LeaderAlive"] })
    expect(c.node(f).term).toBe(t)
    expectStillCommits(c, "after-jump")
  })

  it("a non-contiguous batch is refused (AppendEntriesNonContiguousBatch)", () => {
    const { c, l, f } = live()
    const last = c.node(f).log.lastIndex
    const t = l.term
    expectRefused(c, f, l.id, append({ term: t, prevLogIndex: last, prevLogTerm: t, entries: [cmd(last + 1, t), cmd(last + 3, t)] }), "AppendEntriesNonContiguousBatch")
    expectRefused(c, f, l.id, append({ term: t, prevLogIndex: last, prevLogTerm: t, entries: [cmd(last + 2, t)] }), "AppendEntriesNonContiguousBatch")
    expectStillCommits(c, "after-gap")
  })

  it("entry terms above the frame's term, or going backwards, are refused (AppendEntriesEntryTermOutOfRange)", () => {
    const { c, l, f } = live()
    const last = c.node(f).log.lastIndex
    const t = l.term
    expectRefused(c, f, l.id, append({ term: t, prevLogIndex: last, prevLogTerm: t, entries: [cmd(last + 1, t + 1)] }), "AppendEntriesEntryTermOutOfRange")
    expectRefused(c, f, l.id, append({ term: t, prevLogIndex: last, prevLogTerm: t + 1 }), "AppendEntriesEntryTermOutOfRange")
    expectRefused(c, f, l.id, append({ term: t + 1, prevLogIndex: last, prevLogTerm: t + 1, entries: [cmd(last + 1, t)] }), "AppendEntriesEntryTermOutOfRange")
    expectStillCommits(c, "after-terms")
  })

  it("a second leader claiming an already pinned term is refused (ForgedLeaderForTerm), by followers and by the leader", () => {
    const { c, l, f, g } = live()
    const last = c.node(f).log.lastIndex
    expectRefused(c, f, g, append({ term: l.term, prevLogIndex: last, prevLogTerm: l.term, leaderCommit: last }), "ForgedLeaderForTerm")
    expectRefused(c, l.id, g, append({ term: l.term, prevLogIndex: last, prevLogTerm: l.term }), "ForgedLeaderForTerm")
    expect(c.node(f).leader).toBe(l.id)
    expectStillCommits(c, "after-forged")
  })

  it("a frame claiming to come from the receiver itself is refused (NotAMember)", () => {
    const { c, l, f } = live()
    const last = c.node(f).log.lastIndex
    expectRefused(c, f, f, append({ term: l.term + 1, prevLogIndex: last, prevLogTerm: l.term }), "NotAMember")
    expectRefused(c, l.id, l.id, { _tag: "RequestVoteResponse", term: l.term, voteGranted: true }, "NotAMember")
    expectStillCommits(c, "after-self")
  })

  it("responses nobody asked for are refused (ResponseNotExpected, AppendEntriesIndexOutOfRange)", () => {
    const { c, l, f } = live()
    const ack = (matchIndex: number): RaftMessage => ({
      _tag: "AppendEntriesResponse", term: l.term, success: true, matchIndex, rejectedIndex: 0,
      conflictIndex: 0, conflictTerm: 0, echoedRound: 0
    })
    expectRefused(c, l.id, "z", ack(1), "ResponseNotExpected")
    expectRefused(c, l.id, f, ack(l.log.lastIndex + 50), "AppendEntriesIndexOutOfRange")
    expect(l.progress.get(nid(f))!.match).toBeLessThanOrEqual(l.log.lastIndex)
    expectRefused(c, f, l.id, { _tag: "ForwardResponse", clientRequestId: 12345, outcome: { _tag: "Committed", index: 2, term: l.term } }, "ResponseNotExpected")
    expectStillCommits(c, "after-unasked")
  })

  it("a frame trying to overwrite a committed entry is refused and leaves no trace, even with a newer term", () => {
    const { c, l, f, g } = live()
    const fn = c.node(f)
    const k = fn.commitIndex
    expect(k).toBeGreaterThanOrEqual(2)
    const t = l.term
    expectRefused(c, f, g, append({ term: t + 1, prevLogIndex: k - 1, prevLogTerm: t, entries: [cmd(k, t + 1, "rewrite")] }), "AppendEntriesEntryTermOutOfRange")
    expect(fn.log.termAt(k)).toBe(t)
    expectStillCommits(c, "after-rewrite")
    expect(committedCommands(c, f)).not.toContain("rewrite")
  })

  it("a same-term frame rewriting a committed entry is refused (detached follower)", () => {
    const c = detached(["f", "a"])
    c.inject("f", "a", append({ term: 2, entries: [noop(1, 1), cmd(2, 2), cmd(3, 2)], leaderCommit: 3 }))
    c.advance(5)
    expectRefused(c, "f", "a", append({ term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [cmd(2, 1, "old")] }), "AppendEntriesEntryTermOutOfRange")
    expect(logTerms(c.node("f"))).toEqual([1, 2, 2])
  })
})
