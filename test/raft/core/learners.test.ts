/**
 * Learners (non-voting members, thesis §4.2.1; B10): they receive the whole log, but never
 * campaign, are never asked for votes, and neither their votes nor their acks count.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, committedByIndex, committedCommands, sameEntry } from "./helpers.js"

const cfg = RaftConfig.unsafeMake({})

const withLearners = (learners: Array<string>, seed = 51) =>
  new CoreCluster({ ids: ["a", "b", "c", ...learners], bootstrap: ClusterConfig.of(["a", "b", "c"], learners), seed })

const isElection = (tag: string) => tag === "PreVote" || tag === "RequestVote"

describe("learners", () => {
  it("a learner never campaigns and is never asked to vote, even after many election timeouts without a leader", () => {
    const c = withLearners(["l"])
    const l = awaitLeader(c)
    c.advance(50)
    const learner = c.node("l")
    expect(learner.role).toBe("Learner")
    const term = learner.term
    for (const id of ["a", "b", "c"]) c.crash(id)
    c.advance(10 * cfg.electionTimeoutMax)
    expect(c.tracesOf("PreVoteStarted").filter((e) => e.node === "l")).toEqual([])
    expect(c.tracesOf("Timeout").filter((e) => e.node === "l")).toEqual([])
    expect(c.sent.filter((m) => (m.from === "l" || m.to === "l") && isElection(m.message._tag))).toEqual([])
    expect(learner.role).toBe("Learner")
    expect(learner.term).toBe(term)
    expect(l.id).not.toBe("l")
  })

  it("a learner's (pre-)vote grants never count toward an election", () => {
    const c = new CoreCluster({ ids: ["f", "a", "b", "l"], bootstrap: ClusterConfig.of(["f", "a", "b"], ["l"]), seed: 52 })
    for (const id of c.options.ids) c.isolate(id)
    const f = c.node("f")
    expect(c.advanceUntil(() => f.preVote !== undefined, cfg.electionTimeoutMax)).toBe(true)
    const pv = f.preVote!
    const preGrant = { _tag: "PreVoteResponse", term: 0, voteGranted: true, proposedTerm: pv.proposedTerm, round: pv.round } as const
    c.inject("f", "l", preGrant)
    expect(f.role).toBe("Follower")
    expect(f.term).toBe(0)
    c.inject("f", "a", preGrant)
    expect(f.role).toBe("Candidate")
    const grant = { _tag: "RequestVoteResponse", term: f.term, voteGranted: true } as const
    c.inject("f", "l", grant)
    expect(f.role).toBe("Candidate")
    c.inject("f", "b", grant)
    expect(f.role).toBe("Leader")
  })

  it("learners' acknowledgements never count toward commit", () => {
    const c = withLearners(["l1", "l2"], 53)
    const l = awaitLeader(c)
    c.advance(50)
    for (const id of ["a", "b", "c"]) if (id !== l.id) c.crash(id)
    const h = c.propose(l.id, bytes("needs-a-voter"))
    const index = l.log.lastIndex
    c.advance(100)
    // Two learners hold it (3 of 5 members), yet one voter of three is no quorum.
    for (const id of ["l1", "l2"]) expect(l.progress.get(id as never)!.match).toBe(index)
    expect(l.commitIndex).toBeLessThan(index)
    expect(c.outcomes.has(h)).toBe(false)
    const back = ["a", "b", "c"].find((id) => id !== l.id)!
    c.restart(back)
    expect(c.advanceUntil(() => c.outcomes.has(h), 200)).toBe(true)
    expect(c.outcomes.get(h)).toMatchObject({ _tag: "Proposed", entry: { index } })
  })

  it("a learner receives every entry and hands its consumer the same committed log as the voters", () => {
    const c = withLearners(["l"], 54)
    const l = awaitLeader(c)
    const expected: Array<string> = []
    for (let i = 0; i < 20; i++) {
      expected.push(`w${i}`)
      c.propose(i % 2 === 0 ? l.id : "l", bytes(`w${i}`))
      c.advance(3)
    }
    c.advance(200)
    const mine = committedByIndex(c, "l")
    const theirs = committedByIndex(c, l.id)
    expect(mine.size).toBe(theirs.size)
    for (const [index, e] of theirs) expect(sameEntry(mine.get(index)!, e)).toBe(true)
    expect([...committedCommands(c, "l")].sort()).toEqual([...expected].sort())
    expect(c.node("l").log.lastIndex).toBe(l.log.lastIndex)
  })
})
