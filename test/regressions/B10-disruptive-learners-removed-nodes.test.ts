/**
 * B10 — learners and removed nodes disrupting the cluster.
 *
 * Real instances: etcd's `campaign_learner_must_vote.txt` (a learner must still vote when asked:
 * the candidate may know a newer configuration that promoted it), and the disruptive servers of
 * the thesis §4.2.3 (a server removed from the configuration, or cut off for a while, times out,
 * bumps its term and deposes a healthy leader with RequestVote).
 *
 * Scenarios:
 *   1. a learner that believes it may campaign — PreVote and RequestVote at higher terms, and an
 *      AppendEntries claiming the current term (injected, as a confused or outdated learner would
 *      send them) — changes no term, no leader, no vote and no log on any voter;
 *   2. the converse (etcd `campaign_learner_must_vote`): n2 and n3 are promoted from learners to
 *      voters, n3 never hears of it, the old voter n1 dies; n2 can only win with n3's vote, and n3,
 *      still a learner in its own eyes, gives it;
 *   3. a removed node that never learned of its removal comes back with a much higher term; its
 *      pre-votes, (forged) votes, and its higher-term answers to frames delivered late change
 *      nothing: the leader keeps leading at its term.
 */
import { describe, expect, it } from "@effect/vitest"
import type { RaftMessage } from "../../src/codec/raft/RaftMessage.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import { CoreCluster } from "../../src/testing/CoreCluster.js"
import { append, awaitLeader, bytes, leadersByTerm, logTerms, nid, voters } from "../raft/core/helpers.js"
import { electionsSince, outcomeOf, proposedIndex } from "./scenario.js"

/** What a disruption would change: each voter's term, leader, vote, log and durable hard state. */
const snapshotOf = (c: CoreCluster, ids: ReadonlyArray<string>) =>
  ids.map((id) => {
    const n = c.node(id)
    return { id, role: n.role, term: n.term, leader: n.leader, votedFor: n.votedFor, log: logTerms(n), disk: { ...c.disks.get(nid(id))!.hardState } }
  })

describe("B10 learners and removed nodes disrupt nothing", () => {
  for (const seed of [1, 2, 3]) {
    it(`a learner's PreVote, RequestVote and AppendEntries change nothing on any voter (seed ${seed})`, () => {
      const c = new CoreCluster({ ids: ["a", "b", "c", "l"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["l"]), seed })
      const leader = awaitLeader(c)
      for (let k = 0; k < 3; k++) c.propose(leader.id, bytes(`w${k}`))
      c.advance(60)
      const t = leader.term
      const last = leader.log.lastIndex
      const voterIds = ["a", "b", "c"]
      const before = snapshotOf(c, voterIds)
      const since = c.traces.length
      const frames: Array<RaftMessage> = [
        { _tag: "PreVote", term: t + 1, lastLogIndex: last + 100, lastLogTerm: t, round: 1 },
        { _tag: "RequestVote", term: t + 3, lastLogIndex: last + 100, lastLogTerm: t, leadershipTransfer: false },
        append({ term: t, prevLogIndex: last, prevLogTerm: t, entries: [{ _tag: "NoOp", index: last + 1, term: t }], leaderCommit: last + 1 })
      ]
      for (const frame of frames) for (const id of voterIds) c.inject(id, "l", frame)
      expect(snapshotOf(c, voterIds)).toEqual(before)
      expect(c.tracesOf("PreVoteGranted", since)).toEqual([])
      expect(c.tracesOf("VoteGranted", since)).toEqual([])
      expect(c.tracesOf("FrameRefused", since).filter((e) => e.from === "l").map((e) => e.gate)).toEqual([
        "ForgedLeaderForTerm", "ForgedLeaderForTerm", "ForgedLeaderForTerm"
      ])
      // Repeated for a while, interleaved with real traffic: still one leader, one term.
      for (let k = 0; k < 10; k++) {
        for (const frame of frames) for (const id of voterIds) c.inject(id, "l", frame)
        c.advance(50)
      }
      expect(c.leaders.map((x) => x.id)).toEqual([leader.id])
      for (const id of voterIds) expect(c.node(id).term).toBe(t)
      expect(electionsSince(c, since)).toBe(0)
      expect(proposedIndex(outcomeOf(c, c.propose("l", bytes("still-fine")), 100))).toBe(last + 1)
    })

    it(`a learner that was promoted without knowing it still votes, so the new configuration can elect (seed ${seed})`, () => {
      const c = new CoreCluster({ ids: ["n1", "n2", "n3"], bootstrap: ClusterConfig.of(["n1"], ["n2", "n3"]), seed })
      const n1 = c.node("n1")
      expect(n1.role).toBe("Leader")
      c.advance(20)
      // n3 hears nothing more from n1: the promotion (joint, then final) reaches n2 only.
      c.cutLink("n1", "n3")
      const target = ClusterConfig.ofVoters("n1", "n2", "n3")
      const h = c.changeMembership("n1", target)
      expect(c.advanceUntil(() => c.membershipOutcomes.has(h), 1000)).toBe(true)
      expect(c.membershipOutcomes.get(h)).toEqual({ _tag: "Changed", config: target })
      const n3 = c.node("n3")
      expect(n3.role).toBe("Learner")
      expect(n3.config.new.voters.has(nid("n3"))).toBe(false)
      // n1 dies. In n2's configuration a leader needs 2 of {n1, n2, n3}: n2 and n3.
      c.crash("n1")
      c.heal()
      const since = c.traces.length
      const n2 = awaitLeader(c, 3000, ["n2", "n3"])
      expect(n2.id).toBe("n2")
      expect(c.tracesOf("VoteGranted", since).filter((e) => e.from === "n3" && e.to === "n2")).toHaveLength(1)
      // Once it hears its leader, n3 learns it is a voter.
      expect(c.advanceUntil(() => c.node("n3").role === "Follower", 500)).toBe(true)
      expect(proposedIndex(outcomeOf(c, c.propose("n2", bytes("elected-with-a-learner's-vote")), 100))).toBeGreaterThan(0)
      leadersByTerm(c)
    })

    it(`a removed node that rejoins with a much higher term cannot depose the leader (seed ${seed})`, () => {
      const c = voters(4, { seed })
      const leader = awaitLeader(c)
      c.advance(20)
      const victim = c.ids.find((id) => id !== leader.id)!
      const members = c.ids.filter((id) => id !== victim)
      // The removal commits while the victim is cut off: it never learns of it.
      c.isolate(victim)
      const h = c.changeMembership(leader.id, ClusterConfig.ofVoters(...members))
      expect(c.advanceUntil(() => c.membershipOutcomes.has(h), 1000)).toBe(true)
      expect(c.membershipOutcomes.get(h)?._tag).toBe("Changed")
      const t = leader.term
      // It comes back from a restart far ahead in term, still believing it is a voter.
      c.crash(victim)
      c.disks.get(nid(victim))!.hardState = { term: t + 20, votedFor: null }
      c.restart(victim)
      expect(c.node(victim).config.new.voters.has(nid(victim))).toBe(true)
      const since = c.traces.length
      c.heal()
      c.advance(2000)
      // Its own attempts (pre-votes, once its election timer fires) and forged higher-term votes.
      for (const id of members) {
        c.inject(id, victim, { _tag: "RequestVote", term: t + 25, lastLogIndex: 1000, lastLogTerm: t + 25, leadershipTransfer: false })
        c.inject(id, victim, { _tag: "PreVote", term: t + 26, lastLogIndex: 1000, lastLogTerm: t + 25, round: 99 })
      }
      // Frames sent to it before its removal, delivered late: it answers them at its higher term.
      // Nobody asked it anything in the current configuration, so those answers are refused.
      c.inject(victim, leader.id, append({ term: t, prevLogIndex: 0, prevLogTerm: 0, leaderCommit: 0 }))
      c.inject(victim, members.find((id) => id !== leader.id)!, { _tag: "RequestVote", term: t, lastLogIndex: 0, lastLogTerm: 0, leadershipTransfer: false })
      c.advance(500)
      expect(c.tracesOf("FrameRefused", since).filter((e) => e.from === victim && e.gate === "ResponseNotExpected").map((e) => e.messageType).sort())
        .toEqual(["AppendEntriesResponse", "RequestVoteResponse"])
      expect(c.tracesOf("PreVoteStarted", since).filter((e) => e.node === victim).length).toBeGreaterThan(0)
      expect(c.leaders.map((x) => x.id)).toEqual([leader.id])
      for (const id of members) expect(c.node(id).term).toBe(t)
      expect(c.tracesOf("BecomeFollower", since).filter((e) => members.includes(e.node))).toEqual([])
      expect(electionsSince(c, since)).toBe(0)
      expect(c.tracesOf("VoteDenied", since).filter((e) => e.to === victim).every((e) => e.reasons.includes("LeaderAlive"))).toBe(true)
      const p = proposedIndex(outcomeOf(c, c.propose(leader.id, bytes("undisturbed")), 100))
      expect(p).toBeGreaterThan(0)
      leadersByTerm(c)
    })
  }
})
