/**
 * Raft paper Figure 2, "Rules for Servers" (§5.1–5.3): all servers, followers, candidates, leaders.
 * Candidates here run PreVote first (thesis §9.6); the real election is what the paper describes.
 */
import { describe, expect, it } from "@effect/vitest"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { append, awaitLeader, bytes, cmd, committedCommands, detached, lastSent, nid, noop, voters } from "./helpers.js"

const cfg = RaftConfig.unsafeMake({})

/** f is a Candidate at term 1 among five detached nodes (its pre-vote granted by injection). */
const candidate = (): CoreCluster => {
  const c = detached(["f", "a", "b", "x", "y"])
  const f = c.node("f")
  c.advanceUntil(() => f.preVote !== undefined, cfg.electionTimeoutMax)
  const pv = f.preVote!
  for (const from of ["a", "b"]) {
    c.inject("f", from, { _tag: "PreVoteResponse", term: 0, voteGranted: true, proposedTerm: pv.proposedTerm, round: pv.round })
  }
  expect(f.role).toBe("Candidate")
  expect(f.term).toBe(1)
  return c
}

const voteReply = (term: number, voteGranted: boolean) => ({ _tag: "RequestVoteResponse", term, voteGranted }) as const

describe("Rules for Servers — all servers", () => {
  it("a leader that sees a higher term in a response adopts it durably and becomes follower", () => {
    const c = voters(3, { seed: 2 })
    const l = awaitLeader(c)
    const t = l.term
    const f = [...l.progress.keys()][0]!
    c.inject(l.id, f, {
      _tag: "AppendEntriesResponse", term: t + 1, success: false, matchIndex: 0, rejectedIndex: 0,
      conflictIndex: 0, conflictTerm: 0, echoedRound: 0
    })
    expect(l.role).toBe("Follower")
    expect(l.term).toBe(t + 1)
    expect(c.disks.get(l.id)!.hardState).toEqual({ term: t + 1, votedFor: null })
    expect(c.tracesOf("BecomeFollower").at(-1)).toMatchObject({ node: l.id, term: t + 1, reason: "HigherTermObserved" })
  })

  it("a node that sees a higher term in a request adopts it; a candidate steps down to follower", () => {
    const c = candidate()
    c.inject("f", "x", { _tag: "RequestVote", term: 2, lastLogIndex: 0, lastLogTerm: 0, leadershipTransfer: false })
    const f = c.node("f")
    expect(f.role).toBe("Follower")
    expect(f.term).toBe(2)
    expect(c.tracesOf("BecomeFollower").at(-1)).toMatchObject({ node: "f", term: 2, reason: "HigherTermObserved" })
    expect(lastSent(c, "f", "x", "RequestVoteResponse")).toEqual(voteReply(2, true))
    c.inject("f", "y", append({ term: 5, entries: [noop(1, 5)] }))
    expect(f.term).toBe(5)
    expect(f.leader).toBe("y")
    expect(c.disks.get(nid("f"))!.hardState.term).toBe(5)
  })

  it("committed entries reach each node's consumer once, in index order", () => {
    const c = voters(3, { seed: 4 })
    const l = awaitLeader(c)
    const sent: Array<string> = []
    for (let i = 0; i < 20; i++) {
      sent.push(`v${i}`)
      c.propose(l.id, bytes(`v${i}`))
      c.advance(i % 3)
    }
    c.advance(200)
    for (const id of c.options.ids) {
      const stream = c.committed.get(nid(id))!.map((e) => e.index)
      expect(stream).toEqual(stream.map((_, i) => i + 1))
      expect(committedCommands(c, id)).toEqual(sent)
    }
  })
})

describe("Rules for Servers — followers", () => {
  it("a follower that keeps hearing from its leader never starts an election", () => {
    const c = voters(3, { seed: 5 })
    const l = awaitLeader(c)
    const since = c.traces.length
    c.advance(3000)
    expect(c.tracesOf("PreVoteStarted", since)).toEqual([])
    expect(c.leaders.map((x) => [x.id, x.term])).toEqual([[l.id, l.term]])
  })

  it("a follower that stops hearing from its leader starts a (pre-)election one election timeout later", () => {
    const c = voters(3, { seed: 6 })
    const l = awaitLeader(c)
    c.advance(100)
    const f = c.node([...l.progress.keys()][0]!)
    c.cutLink(l.id, f.id)
    const lastContact = f.leaderContactAt
    expect(c.advanceUntil(() => c.tracesOf("PreVoteStarted").some((e) => e.node === f.id), 1000)).toBe(true)
    const at = c.tracesOf("PreVoteStarted").find((e) => e.node === f.id)!.at
    expect(at).toBeGreaterThanOrEqual(lastContact + cfg.electionTimeoutMin)
    expect(at).toBeLessThan(lastContact + cfg.electionTimeoutMax)
  })
})

describe("Rules for Servers — candidates", () => {
  it("on conversion a candidate increments its term, votes for itself durably, and asks every other server", () => {
    const c = voters(5, { seed: 7 })
    expect(c.advanceUntil(() => c.tracesOf("Timeout").length > 0, 2000)).toBe(true)
    const { node, newTerm } = c.tracesOf("Timeout")[0]!
    expect(newTerm).toBe(1)
    expect(c.disks.get(node)!.hardState).toEqual({ term: 1, votedFor: node })
    const asked = c.sent.filter((m) => m.from === node && m.message._tag === "RequestVote" && m.message.term === 1)
    expect(asked.map((m) => m.to).sort()).toEqual(c.options.ids.filter((id) => id !== node).sort())
    expect(asked.every((m) => m.at === c.now)).toBe(true)
  })

  it("a candidate becomes leader with votes from a majority; stale-term and duplicate grants do not count", () => {
    const c = candidate()
    const f = c.node("f")
    c.inject("f", "a", voteReply(0, true))
    c.inject("f", "b", voteReply(0, true))
    expect(f.role).toBe("Candidate")
    c.inject("f", "a", voteReply(1, true))
    c.inject("f", "a", voteReply(1, true))
    c.inject("f", "x", voteReply(1, false))
    expect(f.role).toBe("Candidate")
    c.inject("f", "b", voteReply(1, true))
    expect(f.role).toBe("Leader")
    expect(c.tracesOf("BecomeLeader")).toMatchObject([{ node: "f", term: 1 }])
  })

  it("a candidate that receives AppendEntries from a leader of its own term becomes its follower", () => {
    const c = candidate()
    c.inject("f", "a", append({ term: 1, entries: [noop(1, 1)] }))
    const f = c.node("f")
    expect(f.role).toBe("Follower")
    expect(f.leader).toBe("a")
    expect(f.term).toBe(1)
    expect(c.tracesOf("BecomeFollower").at(-1)).toMatchObject({ node: "f", term: 1, reason: "AppendEntriesFromLeader" })
  })

  it("a candidate whose election times out starts a new round (its pre-vote leaves the term alone)", () => {
    const c = candidate()
    const since = c.traces.length
    expect(c.advanceUntil(() => c.tracesOf("PreVoteStarted", since).some((e) => e.node === "f"), cfg.electionTimeoutMax)).toBe(true)
    expect(c.tracesOf("PreVoteStarted", since).find((e) => e.node === "f")!.proposedTerm).toBe(2)
    expect(c.node("f").term).toBe(1)
  })
})

describe("Rules for Servers — leaders", () => {
  it("a new leader sends AppendEntries to every server at once and repeats them while idle", () => {
    const c = voters(3, { seed: 8 })
    const l = awaitLeader(c)
    const electedAt = c.tracesOf("BecomeLeader")[0]!.at
    c.advance(500)
    for (const f of c.options.ids.filter((id) => id !== l.id)) {
      const times = c.sent.filter((m) => m.from === l.id && m.to === f && m.message._tag === "AppendEntries").map((m) => m.at)
      expect(times[0]).toBe(electedAt)
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThanOrEqual(cfg.heartbeatInterval)
      expect(c.now - times.at(-1)!).toBeLessThanOrEqual(cfg.heartbeatInterval)
    }
  })

  it("a leader appends a command, replicates it, and answers only once it is committed", () => {
    const c = voters(3, { seed: 9 })
    const l = awaitLeader(c)
    c.advance(10)
    for (const f of l.progress.keys()) c.cutLink(l.id, f)
    const h = c.propose(l.id, bytes("x"))
    const index = l.log.lastIndex
    expect(l.log.entry(index)).toMatchObject({ _tag: "Command", term: l.term })
    c.advance(40)
    expect(c.outcomes.get(h)).toBeUndefined()
    expect(l.commitIndex).toBeLessThan(index)
    c.heal()
    expect(c.advanceUntil(() => c.outcomes.has(h), 200)).toBe(true)
    expect(c.outcomes.get(h)).toMatchObject({ _tag: "Proposed", entry: { index, term: l.term } })
    expect(l.commitIndex).toBeGreaterThanOrEqual(index)
  })

  it("a leader backs up nextIndex on rejection and retries until the follower's log matches", () => {
    const c = detached(["l", "f", "g"])
    // f holds an uncommitted term-2 suffix; l holds a longer term-1 log and wins term 3 below.
    c.inject("f", "g", append({ term: 2, entries: [noop(1, 1), cmd(2, 2), cmd(3, 2), cmd(4, 2)], leaderCommit: 1 }))
    c.inject("l", "g", append({ term: 1, entries: [noop(1, 1), cmd(2, 1), cmd(3, 1), cmd(4, 1), cmd(5, 1)], leaderCommit: 1 }))
    c.advance(cfg.electionTimeoutMin)
    c.inject("l", "g", { _tag: "RequestVote", term: 2, lastLogIndex: 0, lastLogTerm: 0, leadershipTransfer: false })
    const l = c.node("l")
    expect(c.advanceUntil(() => l.preVote?.proposedTerm === 3, cfg.electionTimeoutMax)).toBe(true)
    const pv = l.preVote!
    c.inject("l", "g", { _tag: "PreVoteResponse", term: 2, voteGranted: true, proposedTerm: pv.proposedTerm, round: pv.round })
    c.inject("l", "g", voteReply(3, true))
    expect(l.role).toBe("Leader")
    c.heal()
    c.isolate("g")
    c.advance(100)
    const rejected = c.tracesOf("AppendEntriesRejected").filter((e) => e.from === "f")
    expect(rejected.length).toBeGreaterThanOrEqual(2)
    const f = c.node("f")
    expect(f.log.lastIndex).toBe(l.log.lastIndex)
    for (let i = 1; i <= l.log.lastIndex; i++) expect(f.log.termAt(i)).toBe(l.log.termAt(i))
    expect(f.commitIndex).toBe(l.commitIndex)
  })
})
