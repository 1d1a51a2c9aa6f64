/**
 * Membership changes by joint consensus (§6, thesis §4.3), their safety rules (B5), learners and
 * joiners (thesis §4.2.1), and disruption by removed nodes (B10), on the pure core cluster.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { RaftCore } from "../../../src/raft/core/RaftCore.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { append, awaitLeader, bytes, committedCommands, detached, leadersByTerm, nid, noop, voters } from "./helpers.js"
import { machineOf, publish, stateBytes } from "./stateMachine.js"

const joiner = (id: string) => ClusterConfig.of([], [id])

const configEntries = (core: RaftCore): Array<Extract<LogEntry, { _tag: "Config" }>> => {
  const out: Array<Extract<LogEntry, { _tag: "Config" }>> = []
  for (let i = core.log.snapshotIndex + 1; i <= core.log.lastIndex; i++) {
    const e = core.log.entry(i)!
    if (e._tag === "Config") out.push(e)
  }
  return out
}

const load = (c: CoreCluster, leader: string, n: number, prefix = "v") => {
  for (let i = 0; i < n; i++) {
    c.propose(leader, bytes(`${prefix}${i}`))
    c.advance(2)
  }
  c.advance(60)
}

const change = (c: CoreCluster, leader: string, target: ClusterConfig, maxMs = 2000) => {
  const h = c.changeMembership(leader, target)
  expect(c.advanceUntil(() => c.membershipOutcomes.has(h), maxMs)).toBe(true)
  return c.membershipOutcomes.get(h)!
}

/** Cuts both directions between `a` and each of `others`. */
const sever = (c: CoreCluster, a: string, others: ReadonlyArray<string>) => {
  for (const o of others) {
    c.cutLink(a, o)
    c.cutLink(o, a)
  }
}

const voterSet = (core: RaftCore) => [...core.config.new.voters].sort()

describe("learners", () => {
  it("a joiner added as a learner catches up but stays outside the quorum: commits go on with it down", () => {
    const c = voters(3, { seed: 71 })
    const l = awaitLeader(c)
    load(c, l.id, 5)
    const learner = c.addNode("l1", joiner("l1"))
    expect(learner.role).toBe("Learner")
    const target = ClusterConfig.of(["n1", "n2", "n3"], ["l1"])
    expect(change(c, l.id, target)).toEqual({ _tag: "Changed", config: target })
    // Only learners moved: one simple config entry, no joint phase.
    expect(configEntries(l).map((e) => e.config.old)).toEqual([undefined])
    expect(l.progress.has(nid("l1"))).toBe(true)
    expect(c.advanceUntil(() => learner.commitIndex === l.commitIndex, 500)).toBe(true)
    expect(committedCommands(c, "l1")).toEqual(committedCommands(c, l.id))
    expect(learner.role).toBe("Learner")
    c.crash("l1")
    const [a] = c.options.ids.filter((id) => id !== l.id)
    c.crash(a!)
    const h = c.propose(l.id, bytes("without-the-learner"))
    c.advance(100)
    expect(c.outcomes.get(h)?._tag).toBe("Proposed")
    expect(c.tracesOf("PreVoteStarted").filter((e) => e.node === "l1")).toEqual([])
  })

  it("a learner (or a removed node) has no election deadline for the shell to wait on, even with its leader gone", () => {
    const c = voters(3, { seed: 70 })
    const l = awaitLeader(c)
    c.advance(20)
    const learner = c.addNode("l1", joiner("l1"))
    expect(change(c, l.id, ClusterConfig.of(["n1", "n2", "n3"], ["l1"]))._tag).toBe("Changed")
    for (const id of ["n1", "n2", "n3"]) c.crash(id)
    c.advance(1000)
    expect(learner.role).toBe("Learner")
    expect(learner.nextDeadline()).toBe(Infinity)
  })

  it("a joiner behind the compaction floor is seeded by InstallSnapshot and converges byte-equal", () => {
    const c = voters(3, { seed: 72 })
    const l = awaitLeader(c)
    load(c, l.id, 20)
    expect(publish(c, l.id)).toBe(true)
    const floor = l.log.snapshotIndex
    c.addNode("l1", joiner("l1"))
    expect(change(c, l.id, ClusterConfig.of(["n1", "n2", "n3"], ["l1"]))._tag).toBe("Changed")
    load(c, l.id, 3, "after")
    const learner = c.node("l1")
    expect(learner.log.snapshotIndex).toBe(floor)
    expect(c.stream.get(nid("l1"))![0]).toMatchObject({ _tag: "Install", snapshot: { throughIndex: floor } })
    expect(stateBytes(c, "l1")).toEqual(stateBytes(c, l.id))
    expect(machineOf(c, "l1").commands).toHaveLength(23)
    expect(learner.config.new.learners.has(nid("l1"))).toBe(true)
  })

  it("a caught-up learner is promoted to voter through joint consensus", () => {
    const c = voters(3, { seed: 73 })
    const l = awaitLeader(c)
    c.advance(20)
    c.addNode("l1", joiner("l1"))
    expect(change(c, l.id, ClusterConfig.of(["n1", "n2", "n3"], ["l1"]))._tag).toBe("Changed")
    const target = ClusterConfig.ofVoters("n1", "n2", "n3", "l1")
    expect(change(c, l.id, target)).toEqual({ _tag: "Changed", config: target })
    const [, joint, simple] = configEntries(l)
    expect(joint!.config.old?.voters.has(nid("l1"))).toBe(false)
    expect(joint!.config.new.voters.has(nid("l1"))).toBe(true)
    expect(simple!.config.old).toBeUndefined()
    c.advance(60)
    expect(c.node("l1").role).toBe("Follower")
    for (const id of c.ids) expect(voterSet(c.node(id))).toEqual(["l1", "n1", "n2", "n3"])
  })
})

describe("joint consensus", () => {
  it("3 → 5 voters: while joint, a majority of the new set alone does not commit; healed, the change completes", () => {
    const c = voters(3, { seed: 74 })
    const l = awaitLeader(c)
    load(c, l.id, 3)
    c.addNode("n4", joiner("n4"))
    c.addNode("n5", joiner("n5"))
    const [a, b] = c.options.ids.filter((id) => id !== l.id) as [string, string]
    sever(c, l.id, [a, b])
    const target = ClusterConfig.ofVoters("n1", "n2", "n3", "n4", "n5")
    const h = c.changeMembership(l.id, target)
    const jointIndex = l.log.lastIndex
    // Adopted on append: the leader already shows C_new while joint.
    expect(l.config.old?.voters.size).toBe(3)
    expect(l.config.new.voters.size).toBe(5)
    c.advance(100)
    // {leader, n4, n5} is 3 of 5 but only 1 of 3 old voters: C_old,new cannot commit.
    expect(l.progress.get(nid("n4"))!.match).toBeGreaterThanOrEqual(jointIndex)
    expect(l.progress.get(nid("n5"))!.match).toBeGreaterThanOrEqual(jointIndex)
    expect(l.commitIndex).toBeLessThan(jointIndex)
    expect(c.membershipOutcomes.has(h)).toBe(false)
    c.heal()
    expect(c.advanceUntil(() => c.membershipOutcomes.has(h), 1000)).toBe(true)
    expect(c.membershipOutcomes.get(h)).toEqual({ _tag: "Changed", config: target })
    load(c, l.id, 2, "five")
    for (const id of c.ids) {
      expect(voterSet(c.node(id))).toEqual(["n1", "n2", "n3", "n4", "n5"])
      expect(c.node(id).config.old).toBeUndefined()
      expect(committedCommands(c, id)).toContain("five1")
    }
    expect(c.node("n4").role).toBe("Follower")
  })

  it("3 → 5 voters: while joint, a majority of the old set alone does not commit either", () => {
    const c = voters(3, { seed: 75 })
    const l = awaitLeader(c)
    c.advance(20)
    c.addNode("n4", joiner("n4"))
    c.addNode("n5", joiner("n5"))
    const [a, b] = c.options.ids.filter((id) => id !== l.id) as [string, string]
    sever(c, l.id, [b, "n4", "n5"])
    const h = c.changeMembership(l.id, ClusterConfig.ofVoters("n1", "n2", "n3", "n4", "n5"))
    const jointIndex = l.log.lastIndex
    c.advance(100)
    // {leader, a} is 2 of 3 old voters but 2 of 5 new ones.
    expect(l.progress.get(nid(a))!.match).toBeGreaterThanOrEqual(jointIndex)
    expect(l.commitIndex).toBeLessThan(jointIndex)
    c.heal()
    expect(c.advanceUntil(() => c.membershipOutcomes.get(h)?._tag === "Changed", 1000)).toBe(true)
  })

  it("a lone voter grows to three", () => {
    const c = voters(1, { seed: 76 })
    const l = c.node("n1")
    expect(l.role).toBe("Leader")
    c.advance(5)
    c.addNode("n2", joiner("n2"))
    c.addNode("n3", joiner("n3"))
    expect(change(c, "n1", ClusterConfig.ofVoters("n1", "n2", "n3"))._tag).toBe("Changed")
    load(c, "n1", 2)
    for (const id of ["n2", "n3"]) expect(committedCommands(c, id)).toEqual(["v0", "v1"])
  })

  it("a new leader that inherits a joint configuration completes it with Simple(new)", () => {
    const c = voters(3, { seed: 77 })
    const l = awaitLeader(c)
    c.advance(20)
    c.addNode("n4", joiner("n4"))
    expect(change(c, l.id, ClusterConfig.of(["n1", "n2", "n3"], ["n4"]))._tag).toBe("Changed")
    const others = c.ids.filter((id) => id !== l.id)
    expect(c.advanceUntil(() => c.node("n4").commitIndex === l.commitIndex, 500)).toBe(true)
    // Everyone will hold C_old,new, but the leader never hears so and never commits it.
    for (const id of others) c.cutLink(id, l.id)
    c.changeMembership(l.id, ClusterConfig.ofVoters("n1", "n2", "n3", "n4"))
    const jointIndex = l.log.lastIndex
    expect(c.advanceUntil(() => others.every((id) => c.node(id).log.lastIndex >= jointIndex), 200)).toBe(true)
    expect(l.commitIndex).toBeLessThan(jointIndex)
    c.crash(l.id)
    c.heal()
    const l2 = awaitLeader(c, 5000, others)
    expect(l2.config.old).toBeDefined()
    // Until it has committed in its own term (and finished the joint phase) it takes no change.
    const early = c.changeMembership(l2.id, ClusterConfig.ofVoters("n2", "n3", "n4"))
    expect(c.membershipOutcomes.get(early)).toEqual({ _tag: "InProgress" })
    expect(c.advanceUntil(() => l2.config.old === undefined && l2.configIndex <= l2.commitIndex, 1000)).toBe(true)
    const last = configEntries(l2).at(-1)!
    expect(last.index).toBeGreaterThan(jointIndex)
    expect(last.term).toBe(l2.term)
    expect(last.config.old).toBeUndefined()
    expect([...last.config.new.voters].sort()).toEqual(["n1", "n2", "n3", "n4"])
  })
})

describe("removing the leader", () => {
  it("steps down (RemovedFromConfig) once the final entry commits; the rest elect a new leader", () => {
    const c = voters(3, { seed: 78 })
    const l = awaitLeader(c)
    load(c, l.id, 2)
    const rest = c.ids.filter((id) => id !== l.id)
    const target = ClusterConfig.ofVoters(...rest)
    const h = c.changeMembership(l.id, target)
    const finalDone = () => c.membershipOutcomes.has(h)
    // It keeps leading through the joint phase and while Simple(new) is uncommitted.
    expect(c.advanceUntil(() => configEntries(l).length === 2 || finalDone(), 500)).toBe(true)
    expect(l.role).toBe("Leader")
    expect(c.advanceUntil(finalDone, 500)).toBe(true)
    expect(c.membershipOutcomes.get(h)).toEqual({ _tag: "Changed", config: target })
    expect(l.role).not.toBe("Leader")
    expect(c.tracesOf("BecomeFollower").filter((e) => e.node === l.id).at(-1)?.reason).toBe("RemovedFromConfig")
    const removedAt = c.traces.length
    const l2 = awaitLeader(c, 3000, rest)
    const p = c.propose(l2.id, bytes("after-removal"))
    c.advance(100)
    expect(c.outcomes.get(p)?._tag).toBe("Proposed")
    c.advance(2000)
    expect(c.tracesOf("PreVoteStarted", removedAt).filter((e) => e.node === l.id)).toEqual([])
    expect(l2.progress.has(l.id)).toBe(false)
    expect(l.nextDeadline()).toBe(Infinity)
    leadersByTerm(c)
  })
})

describe("one change at a time (B5)", () => {
  it("refuses a change from a fresh leader before its own-term entry commits, while one is pending, and while joint", () => {
    const c = voters(3, { seed: 79 })
    expect(c.advanceUntil(() => c.leaders.length === 1, 3000)).toBe(true)
    const l = c.leaders[0]!
    expect(l.log.termAt(l.commitIndex)).not.toBe(l.term)
    const learnerTarget = ClusterConfig.of(["n1", "n2", "n3"], ["x"])
    expect(c.membershipOutcomes.get(c.changeMembership(l.id, learnerTarget))).toEqual({ _tag: "InProgress" })
    c.advance(20)
    c.addNode("n4", joiner("n4"))
    const first = c.changeMembership(l.id, ClusterConfig.ofVoters("n1", "n2", "n3", "n4"))
    expect(l.config.old).toBeDefined()
    expect(c.membershipOutcomes.get(c.changeMembership(l.id, learnerTarget))).toEqual({ _tag: "InProgress" })
    expect(c.advanceUntil(() => c.membershipOutcomes.has(first), 1000)).toBe(true)
    expect(change(c, l.id, learnerTarget)._tag).toBe("Changed")
  })

  it("refuses on a non-leader, and refuses an empty voter set or a node listed twice", () => {
    const c = voters(3, { seed: 80 })
    const l = awaitLeader(c)
    c.advance(20)
    const f = c.ids.find((id) => id !== l.id)!
    expect(c.membershipOutcomes.get(c.changeMembership(f, ClusterConfig.ofVoters("n1")))).toMatchObject({ _tag: "NotLeader", leader: l.id })
    expect(c.membershipOutcomes.get(c.changeMembership(l.id, ClusterConfig.of([], ["n1"])))).toMatchObject({ _tag: "Invalid" })
    expect(c.membershipOutcomes.get(c.changeMembership(l.id, ClusterConfig.of(["n1"], ["n1"])))).toMatchObject({ _tag: "Invalid" })
    expect(configEntries(l)).toEqual([])
  })

  it("a leader with a leadership transfer in flight refuses a change with NotLeader, naming the target", () => {
    const c = voters(3, { seed: 83, latency: 5 })
    const l = awaitLeader(c)
    c.advance(40)
    const target = c.ids.find((id) => id !== l.id)!
    c.transferLeadership(l.id, target)
    expect(l.transfer).toBeDefined()
    const h = c.changeMembership(l.id, ClusterConfig.of(["n1", "n2", "n3"], ["x"]))
    expect(c.membershipOutcomes.get(h)).toMatchObject({ _tag: "NotLeader", leader: target })
  })

  it("a step-down fails the pending change with LeadershipLost", () => {
    const c = voters(3, { seed: 81 })
    const l = awaitLeader(c)
    c.advance(20)
    c.isolate(l.id)
    const h = c.changeMembership(l.id, ClusterConfig.of(["n1", "n2", "n3"], ["x"]))
    expect(c.advanceUntil(() => c.membershipOutcomes.has(h), 1000)).toBe(true)
    expect(c.membershipOutcomes.get(h)).toMatchObject({ _tag: "LeadershipLost" })
  })
})

describe("rollback and disruption", () => {
  it("a truncated config entry rolls membership back to the previous configuration", () => {
    const c = detached(["f", "l", "m"])
    const f = c.node("f")
    const joint = ConfigPayload.make({ old: ClusterConfig.ofVoters("f", "l", "m"), new: ClusterConfig.ofVoters("f", "l", "m", "x") })
    c.inject("f", "l", append({ term: 1, entries: [noop(1, 1), { _tag: "Config", index: 2, term: 1, config: joint }], leaderCommit: 1 }))
    expect(f.config).toBe(joint)
    expect(f.configIndex).toBe(2)
    c.inject("f", "m", append({ term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [noop(2, 2)], leaderCommit: 1 }))
    expect(f.config.old).toBeUndefined()
    expect(voterSet(f)).toEqual(["f", "l", "m"])
    expect(f.configIndex).toBe(0)
    expect(c.tracesOf("ConfigChange").filter((e) => e.node === "f").map((e) => e.new.voters.size)).toEqual([4, 3])
  })

  it("a removed node at a higher term cannot disrupt the cluster", () => {
    const c = voters(4, { seed: 82 })
    const l = awaitLeader(c)
    c.advance(20)
    const victim = c.ids.find((id) => id !== l.id)!
    const members = c.ids.filter((id) => id !== victim)
    c.isolate(victim)
    expect(change(c, l.id, ClusterConfig.ofVoters(...members))._tag).toBe("Changed")
    expect(l.progress.has(nid(victim))).toBe(false)
    const v = c.node(victim)
    // It never learned of its removal, and its term is far ahead (it kept campaigning somewhere).
    expect(v.config.new.voters.has(nid(victim))).toBe(true)
    c.advance(300)
    c.inject(victim, members[0]!, { _tag: "RequestVote", term: l.term + 5, lastLogIndex: 1000, lastLogTerm: l.term + 5, leadershipTransfer: false })
    expect(v.term).toBe(l.term + 5)
    // Its answer (a higher-term response nobody in the new configuration asked for) is on the wire.
    expect(c.sent.at(-1)).toMatchObject({ from: victim, message: { _tag: "RequestVoteResponse", term: l.term + 5 } })
    const term = l.term
    const healedAt = c.traces.length
    c.heal()
    c.advance(1500)
    for (const id of members) {
      c.inject(id, victim, { _tag: "RequestVote", term: v.term + 1, lastLogIndex: 1000, lastLogTerm: v.term + 1, leadershipTransfer: false })
    }
    c.advance(200)
    expect(l.role).toBe("Leader")
    for (const id of members) expect(c.node(id).term).toBe(term)
    expect(c.tracesOf("BecomeFollower", healedAt).filter((e) => members.includes(e.node))).toEqual([])
    expect(c.tracesOf("FrameRefused", healedAt)).toContainEqual(
      expect.objectContaining({ from: victim, messageType: "RequestVoteResponse", gate: "ResponseNotExpected" })
    )
    // A removed member is a stranger to the members that know of its removal: its vote requests
    // are refused at the membership gate, not even answered.
    expect(c.tracesOf("FrameRefused", healedAt)).toContainEqual(
      expect.objectContaining({ from: victim, messageType: "RequestVote", gate: "NotAMember" })
    )
    expect(c.tracesOf("VoteDenied", healedAt).filter((e) => e.to === victim)).toEqual([])
    const p = c.propose(l.id, bytes("undisturbed"))
    c.advance(100)
    expect(c.outcomes.get(p)?._tag).toBe("Proposed")
  })
})
