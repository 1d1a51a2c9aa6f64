/**
 * The membership gate (src/raft/core/Trust.ts) on the pure core cluster: strangers and removed
 * members change nothing; a joiner trusts only `joinVia`; a member that missed the change adding
 * its new leader is brought back by a vouch; and when nobody can vouch, it says it is wedged.
 */
import { describe, expect, it } from "@effect/vitest"
import type { RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { CoreCluster as Cluster } from "../../../src/testing/CoreCluster.js"
import { WEDGE_RUN } from "../../../src/raft/core/Wedge.js"
import { append, awaitLeader, bytes, cmd, committedCommands, logTerms, nid, voters } from "./helpers.js"

/** Everything a frame from a stranger must leave untouched on `id`. */
const stateOf = (c: CoreCluster, id: string) => {
  const n = c.node(id)
  return {
    role: n.role,
    term: n.term,
    votedFor: n.votedFor,
    leader: n.leader,
    commitIndex: n.commitIndex,
    log: logTerms(n),
    disk: JSON.stringify(c.disks.get(nid(id)))
  }
}

/** Every request kind a stranger could forge against `id`, at terms up to `jump` above it. */
const forgeries = (c: CoreCluster, id: string, jump: number): Array<RaftMessage> => {
  const n = c.node(id)
  const t = n.term + jump
  const last = n.log.lastIndex
  return [
    append({ term: t, prevLogIndex: last, prevLogTerm: n.log.lastTerm, entries: [cmd(last + 1, t, "forged")], leaderCommit: last + 1 }),
    append({ term: n.term, prevLogIndex: last, prevLogTerm: n.log.lastTerm, entries: [cmd(last + 1, n.term, "forged")], leaderCommit: last + 1 }),
    {
      _tag: "InstallSnapshot",
      term: t,
      lastIncludedIndex: n.commitIndex + 10,
      lastIncludedTerm: t,
      offset: 0,
      totalBytes: 3,
      data: bytes("bad"),
      done: true,
      config: ConfigPayload.make({ new: ClusterConfig.ofVoters("x") }),
      round: 0
    },
    { _tag: "RequestVote", term: t + 1, lastLogIndex: last + 100, lastLogTerm: t + 1, leadershipTransfer: true },
    { _tag: "PreVote", term: t + 1, lastLogIndex: last + 100, lastLogTerm: t + 1, round: 1 },
    { _tag: "TimeoutNow", term: n.term },
    { _tag: "Forward", clientRequestId: 7, command: bytes("forged"), dedupKey: { clientId: n.clientId, requestId: 999 } },
    { _tag: "ReadIndexRequest", requestId: 9 },
    { _tag: "VouchRequest", term: t },
    { _tag: "Vouch", term: t, leader: nid("x") }
  ]
}

describe("the membership gate", () => {
  it("a stranger's frames of every request kind change nothing on any node, are never answered, and are counted by reason", () => {
    const c = voters(3, { seed: 61, config: { maxTermJump: 1000 } })
    const l = awaitLeader(c)
    c.propose(l.id, bytes("before"))
    c.advance(60)
    const since = { traces: c.traces.length, metrics: c.metrics.length }
    for (const id of c.ids) {
      const before = stateOf(c, id)
      const sent = c.sent.length
      for (const jump of [0, 1, 999]) for (const m of forgeries(c, id, jump)) c.inject(id, "x", m)
      expect(stateOf(c, id)).toEqual(before)
      expect(c.sent.slice(sent).filter((s) => s.to === "x")).toEqual([])
    }
    const refused = c.tracesOf("FrameRefused", since.traces).filter((e) => e.from === "x")
    expect(refused).toHaveLength(3 * 3 * 10)
    expect(new Set(refused.map((e) => e.gate))).toEqual(new Set(["NotAMember", "VouchNotAsked"]))
    const counted = c.metrics.slice(since.metrics).filter((m) => m.metric._tag === "FrameRefused")
    expect(counted.map((m) => m.metric._tag === "FrameRefused" && m.metric.gate).filter((g) => g === "NotAMember")).toHaveLength(3 * 3 * 9)
    // Nothing forged reached a consumer, and the cluster goes on.
    for (const id of c.ids) expect(committedCommands(c, id)).not.toContain("forged")
    const p = c.propose(l.id, bytes("after"))
    expect(c.advanceUntil(() => c.outcomes.has(p), 200)).toBe(true)
    expect(c.leaders.map((x) => x.id)).toEqual([l.id])
  })

  it("TimeoutNow from a member that is no voter is refused as NotAVoter", () => {
    const c = new Cluster({ ids: ["a", "b", "c", "l"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["l"]), seed: 62 })
    const leader = awaitLeader(c)
    const f = c.ids.find((id) => id !== leader.id && id !== "l")!
    const since = c.traces.length
    c.inject(f, "l", { _tag: "TimeoutNow", term: c.node(f).term })
    expect(c.tracesOf("FrameRefused", since)).toEqual([expect.objectContaining({ from: "l", messageType: "TimeoutNow", gate: "NotAVoter" })])
    expect(c.node(f).role).toBe("Follower")
  })

  it("a removed member is a stranger to the nodes that know of its removal", () => {
    const c = voters(4, { seed: 63 })
    const l = awaitLeader(c)
    c.advance(20)
    const removed = c.ids.find((id) => id !== l.id)!
    const members = c.ids.filter((id) => id !== removed)
    const h = c.changeMembership(l.id, ClusterConfig.ofVoters(...members))
    expect(c.advanceUntil(() => c.membershipOutcomes.get(h)?._tag === "Changed", 1000)).toBe(true)
    c.advance(50)
    c.isolate(removed)
    const since = c.traces.length
    for (const id of members) {
      const before = stateOf(c, id)
      for (const m of forgeries(c, id, 5)) c.inject(id, removed, m)
      expect(stateOf(c, id)).toEqual(before)
    }
    expect(c.tracesOf("FrameRefused", since).filter((e) => e.from === removed).every((e) => e.gate === "NotAMember" || e.gate === "VouchNotAsked")).toBe(true)
    expect(c.leaders.map((x) => x.id)).toEqual([l.id])
  })
})

describe("joiners trust only joinVia", () => {
  it("a stranger cannot feed a joiner a log; the leader it joins through can", () => {
    const c = voters(3, { seed: 64 })
    const l = awaitLeader(c)
    for (let i = 0; i < 5; i++) c.propose(l.id, bytes(`real-${i}`))
    c.advance(60)
    const j = c.addNode("j", ClusterConfig.of([], ["j"]), [l.id])
    const since = c.traces.length
    // Forged: a whole log with a high commit index, a snapshot, and a vote request.
    c.inject("j", "x", append({ term: 50, prevLogIndex: 0, prevLogTerm: 0, entries: [cmd(1, 50, "forged-1"), cmd(2, 50, "forged-2")], leaderCommit: 2 }))
    for (const m of forgeries(c, "j", 3)) c.inject("j", "x", m)
    expect(j.log.lastIndex).toBe(0)
    expect(j.term).toBe(0)
    expect(c.tracesOf("FrameRefused", since).filter((e) => e.from === "x" && e.messageType === "AppendEntries").map((e) => e.gate))
      .toEqual(["NotAMember", "NotAMember", "NotAMember"])
    // The real leader adds it; it catches up with the real log only.
    const h = c.changeMembership(l.id, ClusterConfig.of(l.config.new.voters, ["j"]))
    expect(c.advanceUntil(() => c.membershipOutcomes.get(h)?._tag === "Changed", 1000)).toBe(true)
    expect(c.advanceUntil(() => j.commitIndex === l.commitIndex, 500)).toBe(true)
    expect(committedCommands(c, "j")).toEqual(committedCommands(c, l.id))
    expect(committedCommands(c, "j")).not.toContain("forged-1")
  })

  it("a joiner added by a leader it was not told about is vouched for by a node it was", () => {
    const c = voters(3, { seed: 65 })
    const l = awaitLeader(c)
    c.advance(20)
    const other = c.ids.find((id) => id !== l.id)!
    const j = c.addNode("j", ClusterConfig.of([], ["j"]), [other])
    const since = c.traces.length
    const h = c.changeMembership(l.id, ClusterConfig.of(l.config.new.voters, ["j"]))
    expect(c.advanceUntil(() => c.membershipOutcomes.get(h)?._tag === "Changed", 1000)).toBe(true)
    expect(c.advanceUntil(() => j.commitIndex === l.commitIndex, 1000)).toBe(true)
    expect(c.tracesOf("FrameRefused", since).some((e) => e.node === "j" && e.from === l.id && e.gate === "NotAMember")).toBe(true)
    expect(c.tracesOf("LeaderVouched", since)).toContainEqual(expect.objectContaining({ node: "j", voucher: other, leader: l.id }))
  })
})

describe("a member that missed the change adding its new leader", () => {
  /**
   * n3 is cut off while n4 joins as a learner, is promoted to voter and takes over leadership:
   * n3's configuration does not list n4 when n4's frames reach it.
   */
  const laggingScenario = (seed: number) => {
    const c = voters(3, { seed })
    const l = awaitLeader(c)
    c.advance(20)
    const [lagger, other] = c.ids.filter((id) => id !== l.id) as [string, string]
    c.isolate(lagger)
    const n4 = c.addNode("n4", ClusterConfig.of([], ["n4"]), [l.id])
    const add = c.changeMembership(l.id, ClusterConfig.of(["n1", "n2", "n3"], ["n4"]))
    expect(c.advanceUntil(() => c.membershipOutcomes.get(add)?._tag === "Changed", 2000)).toBe(true)
    expect(c.advanceUntil(() => n4.commitIndex === l.commitIndex, 1000)).toBe(true)
    const promote = c.changeMembership(l.id, ClusterConfig.ofVoters("n1", "n2", "n3", "n4"))
    expect(c.advanceUntil(() => c.membershipOutcomes.get(promote)?._tag === "Changed", 2000)).toBe(true)
    const t = c.transferLeadership(l.id, "n4")
    expect(c.advanceUntil(() => c.outcomes.get(t)?._tag === "Transferred", 2000)).toBe(true)
    expect(n4.role).toBe("Leader")
    for (let i = 0; i < 3; i++) c.propose("n4", bytes(`under-n4-${i}`))
    c.advance(60)
    const n3 = c.node(lagger)
    expect(n3.config.new.voters.has(nid("n4"))).toBe(false)
    return { c, n3, n4, lagger, others: [l.id as string, other] }
  }

  it("refuses the new leader, asks the members it knows, and is vouched back into the cluster", () => {
    const { c, lagger, n3, n4 } = laggingScenario(66)
    const since = c.traces.length
    c.heal()
    expect(c.advanceUntil(() => n3.commitIndex === n4.commitIndex && n3.config.new.voters.has(nid("n4")), 2000)).toBe(true)
    expect(c.tracesOf("FrameRefused", since).some((e) => e.node === lagger && e.from === "n4" && e.gate === "NotAMember")).toBe(true)
    expect(c.sentSince(0, "VouchRequest").some((m) => m.from === lagger)).toBe(true)
    expect(c.tracesOf("LeaderVouched", since)).toContainEqual(expect.objectContaining({ node: lagger, leader: "n4", term: n4.term }))
    expect(committedCommands(c, lagger)).toEqual(committedCommands(c, "n4"))
    expect(c.metrics.some((m) => m.node === lagger && m.metric._tag === "WedgeSuspected")).toBe(false)
  })

  it("with no member left to vouch, says it is wedged after 64 refused leader frames; recovers once one can", () => {
    const { c, lagger, n3, n4, others } = laggingScenario(67)
    const since = c.traces.length
    c.heal()
    // The lagger hears n4 but none of the members it knows.
    for (const id of others) {
      c.cutLink(id, lagger)
      c.cutLink(lagger, id)
    }
    c.advance(WEDGE_RUN * c.node("n4").cfg.heartbeatInterval + 200)
    const wedges = c.metrics.filter((m) => m.node === lagger && m.metric._tag === "WedgeSuspected")
    expect(wedges).toHaveLength(1)
    expect(wedges[0]!.metric).toMatchObject({ reason: "RefusedLeaderFrames", leader: "n4", leaderTerm: n4.term })
    expect(c.tracesOf("WedgeSuspected", since)).toHaveLength(1)
    expect(n3.wedge.suspected?.reason).toBe("RefusedLeaderFrames")
    c.heal()
    expect(c.advanceUntil(() => n3.commitIndex === n4.commitIndex, 2000)).toBe(true)
    c.advance(20)
    expect(n3.wedge.suspected).toBeUndefined()
    expect(c.tracesOf("WedgeCleared", since).some((e) => e.node === lagger)).toBe(true)
  })
})

describe("wedge and election metrics", () => {
  it("a follower whose leader reports commits it cannot apply suspects a wedge after wedgeSuspicionAfter (NotApplying)", () => {
    const c = voters(3, { seed: 68, config: { wedgeSuspicionAfter: 1000 } })
    const l = awaitLeader(c)
    c.advance(20)
    const f = c.ids.find((id) => id !== l.id)!
    c.isolate(f)
    const core = c.node(f)
    const last = core.log.lastIndex
    // Heartbeats from its leader announce commits far beyond its log; the entries never come.
    for (let t = 0; t < 1200; t += 40) {
      c.inject(f, l.id, append({ term: l.term, prevLogIndex: last + 50, prevLogTerm: l.term, leaderCommit: last + 60 }))
      c.advance(40)
      if (t < 900) expect(core.wedge.suspected).toBeUndefined()
    }
    expect(core.wedge.suspected).toMatchObject({ reason: "NotApplying", leader: l.id })
    expect(c.metrics.filter((m) => m.node === f && m.metric._tag === "WedgeSuspected")).toHaveLength(1)
  })

  it("every election timeout is counted (ElectionTimedOut)", () => {
    const c = voters(3, { seed: 69 })
    const l = awaitLeader(c)
    const timeouts = c.metrics.filter((m) => m.metric._tag === "ElectionTimedOut")
    expect(timeouts.length).toBeGreaterThan(0)
    expect(timeouts.some((m) => m.node === l.id)).toBe(true)
  })
})
