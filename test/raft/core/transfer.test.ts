/**
 * Leadership transfer (thesis §3.10): catch the target up to the leader's last index, TimeoutNow,
 * an immediate election without PreVote that stickiness does not block; success only on a leader
 * frame from the target at a newer term; TimedOut / Cancelled / ReElected; proposals refused
 * while a transfer is pending and accepted again afterwards.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { appendLocal } from "../../../src/raft/core/LocalLog.js"
import { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { append, awaitLeader, bytes, leadersByTerm, nid, voters } from "./helpers.js"

const cfg = RaftConfig.unsafeMake({})

const setup = (seed: number) => {
  const c = voters(3, { seed })
  const l = awaitLeader(c)
  c.advance(20)
  const [t, f] = c.options.ids.filter((id) => id !== l.id) as [string, string]
  return { c, l, t, f }
}

describe("leadership transfer", () => {
  it("hands leadership to the target, which campaigns at once without PreVote; the call returns then", () => {
    const { c, l, t } = setup(91)
    for (const s of ["a", "b"]) c.propose(l.id, bytes(s))
    const term = l.term
    const since = c.traces.length
    const sent = c.sent.length
    const h = c.transferLeadership(l.id, t)
    expect(c.tracesOf("LeadershipTransferStarted", since)).toMatchObject([{ leader: l.id, target: t }])
    expect(c.advanceUntil(() => c.outcomes.has(h), cfg.electionTimeoutMax)).toBe(true)
    expect(c.outcomes.get(h)).toEqual({ _tag: "Transferred" })
    expect(c.node(t).role).toBe("Leader")
    expect(c.node(t).term).toBe(term + 1)
    expect(l.role).toBe("Follower")
    expect(c.tracesOf("PreVoteStarted", since).filter((e) => e.node === t)).toEqual([])
    const votes = c.sentSince(sent, "RequestVote").filter((m) => m.from === t)
    expect(votes.length).toBeGreaterThan(0)
    for (const v of votes) expect(v.message).toMatchObject({ leadershipTransfer: true, term: term + 1 })
    expect(c.tracesOf("LeadershipTransferAbandoned", since)).toEqual([])
    leadersByTerm(c)
  })

  it("catches the target up to the leader's LAST index (not just commit) before sending TimeoutNow", () => {
    const { c, l, t, f } = setup(92)
    c.isolate(f)
    c.cutLink(l.id, t)
    const h0 = c.propose(l.id, bytes("uncommitted"))
    c.advance(5)
    expect(c.outcomes.has(h0)).toBe(false)
    const last = l.log.lastIndex
    expect(l.commitIndex).toBeLessThan(last)
    const sent = c.sent.length
    const h = c.transferLeadership(l.id, t)
    c.advance(5)
    expect(c.sentSince(sent, "TimeoutNow")).toEqual([])
    c.heal()
    c.isolate(f)
    expect(c.advanceUntil(() => c.outcomes.has(h), cfg.electionTimeoutMax)).toBe(true)
    expect(c.outcomes.get(h)).toEqual({ _tag: "Transferred" })
    const timeoutNow = c.sentSince(sent, "TimeoutNow")
    expect(timeoutNow.map((m) => [m.from, m.to])).toEqual([[l.id, t]])
    // The target held the whole log when told to campaign, so the old leader could vote for it.
    const acks = c.sentSince(sent, "AppendEntriesResponse").filter((m) => m.from === t && m.at <= timeoutNow[0]!.at)
    expect(acks.some((m) => m.message._tag === "AppendEntriesResponse" && m.message.matchIndex === last)).toBe(true)
    // The entry that was only in the old leader's log commits under the new one.
    expect(c.advanceUntil(() => c.outcomes.has(h0), 100)).toBe(true)
  })

  it("an unreachable target times out after electionTimeoutMax; the leader then takes proposals again", () => {
    const { c, l, t } = setup(93)
    c.isolate(t)
    const since = c.traces.length
    const startedAt = c.now
    const h = c.transferLeadership(l.id, t)
    const refused = c.propose(l.id, bytes("during"))
    expect(c.outcomes.get(refused)).toMatchObject({ _tag: "NotLeader", leader: t })
    expect(c.advanceUntil(() => c.outcomes.has(h), 2 * cfg.electionTimeoutMax)).toBe(true)
    expect(c.outcomes.get(h)).toEqual({ _tag: "TransferFailed", target: t, reason: "TimedOut" })
    expect(c.now - startedAt).toBe(cfg.electionTimeoutMax)
    expect(c.tracesOf("LeadershipTransferAbandoned", since)).toMatchObject([{ leader: l.id, target: t, reason: "TimedOut" }])
    expect(l.role).toBe("Leader")
    const after = c.propose(l.id, bytes("after"))
    expect(c.advanceUntil(() => c.outcomes.has(after), 20)).toBe(true)
    expect(c.outcomes.get(after)?._tag).toBe("Proposed")
  })

  it("forwarded proposals are answered NotLeader while a transfer is pending (the proposer sees LeadershipLost)", () => {
    const { c, l, t, f } = setup(94)
    c.isolate(t)
    c.transferLeadership(l.id, t)
    const h = c.propose(f, bytes("forwarded"))
    expect(c.advanceUntil(() => c.outcomes.has(h), 10)).toBe(true)
    expect(c.outcomes.get(h)).toMatchObject({ _tag: "LeadershipLost" })
    expect(l.log.range(1, l.log.lastIndex).some((e) => e._tag === "Command")).toBe(false)
  })

  it("cancelTransfer fails the call with Cancelled and the leader resumes; interrupting the caller cancels too", () => {
    const { c, l, t } = setup(95)
    c.isolate(t)
    const since = c.traces.length
    const h = c.transferLeadership(l.id, t)
    c.advance(10)
    c.cancelTransfer(l.id)
    expect(c.outcomes.get(h)).toEqual({ _tag: "TransferFailed", target: t, reason: "Cancelled" })
    expect(c.tracesOf("LeadershipTransferAbandoned", since)).toMatchObject([{ reason: "Cancelled" }])
    c.cancelTransfer(l.id) // a no-op now
    const p = c.propose(l.id, bytes("resumed"))
    expect(c.advanceUntil(() => c.outcomes.has(p), 20)).toBe(true)
    expect(c.outcomes.get(p)?._tag).toBe("Proposed")
    const h2 = c.transferLeadership(l.id, t)
    c.cancel(l.id, h2)
    expect(l.transfer).toBeUndefined()
    expect(c.tracesOf("LeadershipTransferAbandoned", since)).toHaveLength(2)
  })

  it("fails at once: NotLeader, InvalidTarget (self, learner, stranger), MembershipChangeInProgress, AlreadyInFlight", () => {
    const c = new CoreCluster({ ids: ["a", "b", "c", "l"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["l"]), seed: 96 })
    const leader = awaitLeader(c)
    c.advance(20)
    const [t] = ["a", "b", "c"].filter((id) => id !== leader.id) as [string]
    expect(c.outcomes.get(c.transferLeadership(t, leader.id))).toMatchObject({ _tag: "NotLeader", leader: leader.id })
    for (const bad of [leader.id, "l", "stranger"]) {
      expect(c.outcomes.get(c.transferLeadership(leader.id, bad))).toEqual({ _tag: "TransferFailed", target: bad, reason: "InvalidTarget" })
    }
    c.isolate(t)
    const first = c.transferLeadership(leader.id, t)
    expect(c.outcomes.get(c.transferLeadership(leader.id, t))).toEqual({ _tag: "TransferFailed", target: t, reason: "AlreadyInFlight" })
    c.cancelTransfer(leader.id)
    expect(c.outcomes.get(first)).toMatchObject({ reason: "Cancelled" })
    // An uncommitted configuration entry: a membership change is in progress.
    const others = ["a", "b", "c"].filter((id) => id !== t)
    others.forEach((id) => c.isolate(id))
    appendLocal(leader, { _tag: "Config", index: leader.log.lastIndex + 1, term: leader.term, config: ConfigPayload.make({ new: ClusterConfig.of(["a", "b", "c"], []) }) })
    c.process()
    expect(c.outcomes.get(c.transferLeadership(leader.id, t))).toEqual({ _tag: "MembershipChangeInProgress" })
  })

  it("a step-down does not end a pending transfer; re-election of this node first fails it as ReElected", () => {
    const config = { electionTimeoutMin: 100, electionTimeoutMax: 1000, heartbeatInterval: 20 }
    const c = voters(3, { seed: 97, config })
    const l = awaitLeader(c)
    c.advance(30)
    const [t, f] = c.options.ids.filter((id) => id !== l.id) as [string, string]
    const since = c.traces.length
    const h = c.transferLeadership(l.id, t)
    // Let the target's RequestVote reach the old leader, then lose the target for good.
    expect(c.advanceUntil(() => l.role !== "Leader", 20)).toBe(true)
    c.isolate(t)
    c.crash(t)
    expect(c.outcomes.has(h)).toBe(false)
    expect(l.transfer).toBeDefined()
    expect(c.advanceUntil(() => c.outcomes.has(h), config.electionTimeoutMax)).toBe(true)
    expect(l.role).toBe("Leader")
    expect(c.outcomes.get(h)).toEqual({ _tag: "TransferFailed", target: t, reason: "ReElected" })
    expect(c.tracesOf("LeadershipTransferAbandoned", since)).toMatchObject([{ reason: "ReElected" }])
    const p = c.propose(l.id, bytes("still-serving"))
    expect(c.advanceUntil(() => c.outcomes.has(p), 20)).toBe(true)
    expect(c.outcomes.get(p)?._tag).toBe("Proposed")
    expect(f).toBeDefined()
  })
})

describe("TimeoutNow gates (the target's side)", () => {
  const follower = () => {
    const c = new CoreCluster({ ids: ["f", "x", "y", "l"], bootstrap: ClusterConfig.of(["f", "x", "y"], ["l"]), seed: 98 })
    for (const id of c.options.ids) c.isolate(id)
    // "x" leads term 2 as far as f and l know.
    c.inject("f", "x", append({ term: 2 }))
    c.inject("l", "x", append({ term: 2 }))
    return c
  }
  const gateOf = (c: CoreCluster, since: number) => c.tracesOf("FrameRefused", since).map((e) => e.gate)

  for (
    const [name, to, from, term, gate] of [
      ["a stale term", "f", "x", 1, "TimeoutNowStaleTerm"],
      ["a future term", "f", "x", 3, "TimeoutNowFutureTerm"],
      ["a sender that is not the pinned leader of the term", "f", "y", 2, "TimeoutNowSenderNotEstablishedLeader"],
      ["a learner", "l", "x", 2, "TimeoutNowSelfLearner"]
    ] as const
  ) {
    it(`refuses ${name} (${gate}) and starts no election`, () => {
      const c = follower()
      const since = c.traces.length
      c.inject(to, from, { _tag: "TimeoutNow", term })
      expect(gateOf(c, since)).toEqual([gate])
      expect(c.node(to).term).toBe(2)
      expect(c.node(to).role).toBe(to === "l" ? "Learner" : "Follower")
    })
  }

  it("refuses while leader or candidate (TimeoutNowSelfLeaderOrCandidate)", () => {
    const c = follower()
    c.inject("f", "x", { _tag: "TimeoutNow", term: 2 })
    expect(c.node("f").role).toBe("Candidate")
    const since = c.traces.length
    c.inject("f", "x", { _tag: "TimeoutNow", term: 3 })
    expect(gateOf(c, since)).toEqual(["TimeoutNowSelfLeaderOrCandidate"])
    expect(c.node("f").term).toBe(3)
  })

  it("from the established leader of our term: an immediate election with leadershipTransfer set", () => {
    const c = follower()
    const sent = c.sent.length
    c.inject("f", "x", { _tag: "TimeoutNow", term: 2 })
    const f = c.node("f")
    expect(f.role).toBe("Candidate")
    expect(f.term).toBe(3)
    expect(f.votedFor).toBe(nid("f"))
    const votes = c.sentSince(sent, "RequestVote")
    expect(votes.map((m) => m.to).sort()).toEqual(["x", "y"])
    for (const v of votes) expect(v.message).toMatchObject({ leadershipTransfer: true })
    expect(c.sentSince(sent, "PreVote")).toEqual([])
  })
})
