/**
 * Leader election: Election Safety under faults, the single-voter shortcut, PreVote (no term
 * inflation), leader stickiness (B6), CheckQuorum step-down, and the denial reason sets.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { Prng } from "../../../src/raft/core/Prng.js"
import { CoreCluster } from "../../../src/testing/CoreCluster.js"
import {
  append, awaitLeader, bytes, cmd, committedCommands, detached, expectCommittedAgree, leadersByTerm, nid, noop, voters
} from "./helpers.js"

const cfg = RaftConfig.unsafeMake({})

/** A seeded run of isolations, one-way cuts, crashes, restarts and proposals, then healing. */
const chaos = (seed: number): CoreCluster => {
  const n = 3 + (seed % 3) * 2
  const c = voters(n, { seed, latency: 1 + (seed % 3) })
  const rng = new Prng(seed * 31 + 7)
  const ids = c.options.ids
  const pick = () => ids[rng.nextU32() % ids.length]!
  const down = new Set<string>()
  let serial = 0
  for (let step = 0; step < 60; step++) {
    const r = rng.nextU32() % 10
    const id = pick()
    if (r < 2) c.isolate(id)
    else if (r < 4) c.heal()
    else if (r < 5 && down.size < (n - 1) / 2 && !down.has(id)) {
      c.crash(id)
      down.add(id)
    } else if (r < 6 && down.size > 0) {
      const back = [...down][0]!
      down.delete(back)
      c.restart(back)
    } else if (r < 8) c.cutLink(id, pick())
    else if (!down.has(id)) c.propose(id, bytes(`s${seed}-${serial++}`))
    c.advance(rng.between(5, 150))
  }
  c.heal()
  for (const id of down) c.restart(id)
  return c
}

describe("elections", () => {
  it("exactly one leader per term, tracked over whole chaotic runs of 3, 5 and 7 nodes, for many seeds", () => {
    let elections = 0
    for (let seed = 1; seed <= 30; seed++) {
      const c = chaos(seed)
      // Liveness once healed: a proposal made during a last leader change may be lost; a retry commits.
      let proposed = false
      for (let attempt = 0; attempt < 3 && !proposed; attempt++) {
        const h = c.propose(awaitLeader(c, 5000).id, bytes("final"))
        c.advance(300)
        proposed = c.outcomes.get(h)?._tag === "Proposed"
      }
      expect(proposed, `seed ${seed}`).toBe(true)
      const byTerm = leadersByTerm(c)
      elections += byTerm.size
      for (const core of c.cores.values()) expect(committedCommands(c, core.id)).toContain("final")
      expectCommittedAgree(c)
    }
    expect(elections).toBeGreaterThan(50)
  })

  it("a single voter leads at once with the no-op at index 1; its first proposal is index 2", () => {
    const c = new CoreCluster({ ids: ["a"], bootstrap: ClusterConfig.ofVoters("a") })
    const a = c.node("a")
    expect(c.now).toBe(0)
    expect(a.role).toBe("Leader")
    expect(a.term).toBe(1)
    expect(c.committed.get(nid("a"))).toEqual([{ _tag: "NoOp", index: 1, term: 1 }])
    expect(c.tracesOf("PreVoteStarted")).toEqual([])
    expect(c.sent).toEqual([])
    const h = c.propose("a", bytes("first"))
    expect(c.outcomes.get(h)).toMatchObject({ _tag: "Proposed", entry: { index: 2, term: 1 } })
    expect(c.now).toBe(0)
  })

  it("PreVote does not bump the term: an isolated follower times out repeatedly at the same term", () => {
    const c = voters(3, { seed: 11 })
    const l = awaitLeader(c)
    const t = l.term
    const f = c.options.ids.find((id) => id !== l.id)!
    const since = c.traces.length
    c.isolate(f)
    c.advance(3000)
    const rounds = c.tracesOf("PreVoteStarted", since).filter((e) => e.node === f)
    expect(rounds.length).toBeGreaterThanOrEqual(5)
    expect(new Set(rounds.map((e) => e.proposedTerm))).toEqual(new Set([t + 1]))
    expect(c.tracesOf("Timeout", since)).toEqual([])
    expect(c.node(f).term).toBe(t)
    expect(c.disks.get(nid(f))!.hardState.term).toBe(t)
  })

  it("a partitioned follower rejoining causes no term bump and no leader step-down (stickiness)", () => {
    for (const seed of [12, 13, 14]) {
      const c = voters(3, { seed })
      const l = awaitLeader(c)
      const t = l.term
      const f = c.options.ids.find((id) => id !== l.id)!
      c.isolate(f)
      c.advance(2000)
      const since = c.traces.length
      c.heal()
      c.advance(1000)
      expect(c.tracesOf("BecomeFollower", since)).toEqual([])
      expect(c.tracesOf("Timeout", since)).toEqual([])
      expect(c.leaders.map((x) => x.id)).toEqual([l.id])
      for (const core of c.cores.values()) expect(core.term).toBe(t)
      expect(c.node(f).leader).toBe(l.id)
      c.propose(f, bytes("after"))
      c.advance(100)
      expect(committedCommands(c, f)).toEqual(["after"])
    }
  })

  it("a node that votes for another candidate drops its own pre-vote round: late grants start no election", () => {
    const c = detached(["f", "a", "b"])
    const f = c.node("f")
    const lateGrant = (from: string) => {
      const pv = f.preVote!
      return () => c.inject("f", from, {
        _tag: "PreVoteResponse", term: pv.proposedTerm - 1, voteGranted: true, proposedTerm: pv.proposedTerm, round: pv.round
      })
    }
    // Voting in a newer term (0 -> 1) while pre-voting for term 1.
    expect(c.advanceUntil(() => f.preVote !== undefined, cfg.electionTimeoutMax)).toBe(true)
    const grant1 = lateGrant("b")
    c.inject("f", "a", { _tag: "RequestVote", term: 1, lastLogIndex: 0, lastLogTerm: 0, leadershipTransfer: false })
    expect(f.votedFor).toBe("a")
    grant1()
    expect(f.term).toBe(1)
    expect(f.role).toBe("Follower")
    // Voting in the current term (1, no vote cast in it yet) while pre-voting for 2.
    const d = detached(["f", "a", "b"])
    const g = d.node("f")
    d.inject("f", "b", append({ term: 1 }))
    expect(g.term).toBe(1)
    expect(g.votedFor).toBeNull()
    expect(d.advanceUntil(() => g.preVote?.proposedTerm === 2, cfg.electionTimeoutMax)).toBe(true)
    const pv = g.preVote!
    d.inject("f", "a", { _tag: "RequestVote", term: 1, lastLogIndex: 0, lastLogTerm: 0, leadershipTransfer: false })
    expect(g.votedFor).toBe("a")
    d.inject("f", "b", { _tag: "PreVoteResponse", term: 1, voteGranted: true, proposedTerm: 2, round: pv.round })
    expect(g.term).toBe(1)
    expect(g.role).toBe("Follower")
    expect([...c.tracesOf("Timeout"), ...d.tracesOf("Timeout")]).toEqual([])
  })

  it("a partitioned leader steps down with LostQuorum at the same term (3 and 5 nodes)", () => {
    for (const n of [3, 5]) {
      const c = voters(n, { seed: 15 })
      const l = awaitLeader(c)
      const t = l.term
      const keep = c.options.ids.filter((id) => id !== l.id).slice(0, n === 5 ? 1 : 0)
      for (const id of c.options.ids) {
        if (id === l.id || keep.includes(id)) continue
        c.cutLink(l.id, id)
        c.cutLink(id, l.id)
      }
      const since = c.traces.length
      expect(c.advanceUntil(() => l.role !== "Leader", 2 * cfg.electionTimeoutMax)).toBe(true)
      expect(c.tracesOf("BecomeFollower", since).filter((e) => e.node === l.id)).toEqual([
        expect.objectContaining({ node: l.id, term: t, reason: "LostQuorum" })
      ])
      expect(l.term).toBe(t)
      expect(c.disks.get(l.id)!.hardState.term).toBe(t)
    }
  })
})

describe("denial reasons", () => {
  /** f holds [1(t1), 2(t2)] at term 3 having voted for y; no leader alive. */
  const voted = () => {
    const c = detached(["f", "a", "x", "y"])
    c.inject("f", "a", append({ term: 2, entries: [noop(1, 1), cmd(2, 2)], leaderCommit: 2 }))
    c.advance(cfg.electionTimeoutMin)
    c.inject("f", "y", { _tag: "RequestVote", term: 3, lastLogIndex: 2, lastLogTerm: 2, leadershipTransfer: false })
    expect(c.node("f").votedFor).toBe("y")
    return c
  }
  const rv = (term: number, lastLogIndex: number, lastLogTerm: number) =>
    ({ _tag: "RequestVote", term, lastLogIndex, lastLogTerm, leadershipTransfer: false }) as const
  const pv = (term: number, lastLogIndex: number, lastLogTerm: number) =>
    ({ _tag: "PreVote", term, lastLogIndex, lastLogTerm, round: 1 }) as const
  const lastVoteDenial = (c: CoreCluster) => c.tracesOf("VoteDenied").at(-1)!.reasons
  const lastPreVoteDenial = (c: CoreCluster) => c.tracesOf("PreVoteDenied").at(-1)!.reasons

  it("RequestVote lists every failing conjunct in the order StaleTerm, AlreadyVoted, LogNotUpToDate", () => {
    const c = voted()
    c.inject("f", "x", rv(2, 1, 1))
    expect(lastVoteDenial(c)).toEqual(["StaleTerm", "AlreadyVoted", "LogNotUpToDate"])
    c.inject("f", "x", rv(3, 1, 1))
    expect(lastVoteDenial(c)).toEqual(["AlreadyVoted", "LogNotUpToDate"])
    c.inject("f", "x", rv(2, 2, 2))
    expect(lastVoteDenial(c)).toEqual(["StaleTerm", "AlreadyVoted"])
    c.inject("f", "x", rv(4, 1, 1))
    expect(lastVoteDenial(c)).toEqual(["LogNotUpToDate"])
  })

  it("a live leader's follower denies a higher-term vote with LeaderAlive alone, without adopting the term", () => {
    const c = voted()
    c.inject("f", "y", append({ term: 3, prevLogIndex: 2, prevLogTerm: 2, leaderCommit: 2 }))
    const hard = { ...c.disks.get(nid("f"))!.hardState }
    c.inject("f", "x", rv(4, 2, 2))
    expect(lastVoteDenial(c)).toEqual(["LeaderAlive"])
    // Even a request that also fails every other conjunct is denied for stickiness alone.
    c.inject("f", "x", rv(5, 0, 0))
    expect(lastVoteDenial(c)).toEqual(["LeaderAlive"])
    const f = c.node("f")
    expect(f.term).toBe(3)
    expect(f.leader).toBe("y")
    expect(c.disks.get(nid("f"))!.hardState).toEqual(hard)
  })

  it("PreVote lists every failing conjunct in the order LeaderAlive, LogNotUpToDate, StaleTerm, and records nothing", () => {
    const c = voted()
    c.inject("f", "y", append({ term: 3, prevLogIndex: 2, prevLogTerm: 2, leaderCommit: 2 }))
    c.inject("f", "x", pv(3, 1, 1))
    expect(lastPreVoteDenial(c)).toEqual(["LeaderAlive", "LogNotUpToDate", "StaleTerm"])
    c.inject("f", "x", pv(4, 2, 2))
    expect(lastPreVoteDenial(c)).toEqual(["LeaderAlive"])
    c.advance(cfg.electionTimeoutMin)
    c.inject("f", "x", pv(4, 1, 2))
    expect(lastPreVoteDenial(c)).toEqual(["LogNotUpToDate"])
    c.inject("f", "x", pv(3, 2, 2))
    expect(lastPreVoteDenial(c)).toEqual(["StaleTerm"])
    const hard = { ...c.disks.get(nid("f"))!.hardState }
    c.inject("f", "x", pv(4, 2, 2))
    expect(c.tracesOf("PreVoteGranted").at(-1)).toMatchObject({ node: "f", to: "x", proposedTerm: 4 })
    expect(c.node("f").term).toBe(3)
    expect(c.node("f").votedFor).toBe("y")
    expect(c.disks.get(nid("f"))!.hardState).toEqual(hard)
  })
})
