/**
 * Linearizable reads (thesis §6.4, ReadIndex): no log write; the fresh-leader no-op gate (B2);
 * one round shared by the reads of a turn; confirmation only by echoes of a round sent after the
 * read arrived (B3); a minority leader never confirms (B4); fenced reads from followers and
 * learners (§6.4.1).
 */
import { describe, expect, it } from "@effect/vitest"
import type { AppendEntriesResponse } from "../../../src/codec/raft/RaftMessage.js"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { appendLocal } from "../../../src/raft/core/LocalLog.js"
import type { Outcome } from "../../../src/raft/core/Ready.js"
import { awaitLeader, bytes, committedByIndex, committedCommands, voters } from "./helpers.js"

const cfg = RaftConfig.unsafeMake({})

const readOf = (o: Outcome | undefined): number => {
  if (o?._tag !== "Read") throw new Error(`expected a Read outcome, got ${o?._tag}`)
  return o.index
}

/** Runs until the leader has just sent a heartbeat, so a whole interval passes before the next. */
const justAfterHeartbeat = (c: CoreCluster, id: string): void => {
  const l = c.node(id)
  expect(c.advanceUntil(() => l.heartbeatDeadline - c.now === cfg.heartbeatInterval, 2 * cfg.heartbeatInterval)).toBe(true)
}

describe("readIndex", () => {
  it("confirms a quorum and answers with the commit index without writing to the log", () => {
    const c = voters(3, { seed: 71 })
    const l = awaitLeader(c)
    c.propose(l.id, bytes("w1"))
    c.advance(20)
    const last = l.log.lastIndex
    const stored = c.disks.get(l.id)!.entries.length
    const h = c.readIndex(l.id)
    expect(c.advanceUntil(() => c.outcomes.has(h), 20)).toBe(true)
    expect(readOf(c.outcomes.get(h))).toBe(l.commitIndex)
    expect(l.log.lastIndex).toBe(last)
    expect(c.disks.get(l.id)!.entries.length).toBe(stored)
    expect(c.tracesOf("ReadIndexConfirmed").at(-1)).toMatchObject({ node: l.id, readIndex: l.commitIndex, term: l.term })
  })

  it("reads queued in one turn share one round: one AppendEntries per voter", () => {
    const c = voters(3, { seed: 72 })
    const l = awaitLeader(c)
    c.advance(20)
    justAfterHeartbeat(c, l.id)
    const since = c.sent.length
    const handles = [9001, 9002, 9003, 9004, 9005]
    for (const h of handles) l.readIndex(h, c.now)
    c.process()
    const rounds = c.sentSince(since, "AppendEntries").filter((m) => m.from === l.id)
    expect(rounds.map((m) => m.to).sort()).toEqual(c.options.ids.filter((id) => id !== l.id).sort())
    expect(new Set(rounds.map((m) => m.message._tag === "AppendEntries" && m.message.round)).size).toBe(1)
    expect(c.advanceUntil(() => handles.every((h) => c.outcomes.has(h)), 10)).toBe(true)
    expect(new Set(handles.map((h) => readOf(c.outcomes.get(h))))).toEqual(new Set([l.commitIndex]))
    // Nothing else went out for them: still one AppendEntries per follower when they all resolved.
    expect(c.sentSince(since, "AppendEntries").filter((m) => m.from === l.id)).toHaveLength(2)
    // Reads in separate turns each need their own round.
    const since2 = c.sent.length
    c.readIndex(l.id)
    c.readIndex(l.id)
    expect(c.sentSince(since2, "AppendEntries").filter((m) => m.from === l.id)).toHaveLength(4)
  })

  it("a lone voter answers at once", () => {
    const c = new CoreCluster({ ids: ["solo"], bootstrap: ClusterConfig.ofVoters("solo") })
    const l = c.node("solo")
    expect(l.role).toBe("Leader")
    const h = c.readIndex("solo")
    expect(readOf(c.outcomes.get(h))).toBe(l.commitIndex)
    expect(l.commitIndex).toBe(1)
  })

  it("a fresh leader's read waits for its no-op, so it covers what the previous leader committed (B2)", () => {
    const c = voters(3, { seed: 73 })
    const old = awaitLeader(c)
    c.advance(20)
    justAfterHeartbeat(c, old.id)
    const w = c.propose(old.id, bytes("acked-write"))
    expect(c.advanceUntil(() => c.outcomes.has(w), 10)).toBe(true)
    const written = c.outcomes.get(w)
    if (written?._tag !== "Proposed") throw new Error("write did not commit")
    // The followers hold the write but have not yet learned that it committed.
    for (const id of c.options.ids) if (id !== old.id) expect(c.node(id).commitIndex).toBeLessThan(written.entry.index)
    c.crash(old.id)
    const fresh = awaitLeader(c, 2000, c.options.ids.filter((id) => id !== old.id))
    expect(fresh.commitIndex).toBeLessThan(written.entry.index)
    const h = c.readIndex(fresh.id)
    expect(c.outcomes.has(h)).toBe(false)
    expect(fresh.reads.awaitingNoOp).toHaveLength(1)
    expect(c.advanceUntil(() => c.outcomes.has(h), 50)).toBe(true)
    expect(readOf(c.outcomes.get(h))).toBeGreaterThan(written.entry.index)
  })

  it("a leader cut off in a minority fails its read with LeadershipLost and never answers stale (B4)", () => {
    const c = voters(3, { seed: 74 })
    const l = awaitLeader(c)
    c.advance(20)
    c.isolate(l.id)
    const h = c.readIndex(l.id)
    const others = c.options.ids.filter((id) => id !== l.id)
    const next = awaitLeader(c, 3000, others)
    const w = c.propose(next.id, bytes("newer"))
    expect(c.advanceUntil(() => c.outcomes.has(w), 50)).toBe(true)
    // Until CheckQuorum deposes it the read stays pending; it never resolves with a value.
    expect(c.advanceUntil(() => c.outcomes.has(h), 2 * cfg.electionTimeoutMax)).toBe(true)
    expect(c.outcomes.get(h)).toMatchObject({ _tag: "LeadershipLost" })
    expect(c.tracesOf("ReadIndexConfirmed").filter((e) => e.node === l.id && e.term === l.term)).toEqual([])
    expect(c.outcomes.get(c.readIndex(l.id))).toMatchObject({ _tag: "NotLeader" })
  })

  it("a delayed echo of an older round confirms only the reads queued before that round (B3)", () => {
    const c = voters(3, { seed: 75 })
    const l = awaitLeader(c)
    c.advance(20)
    justAfterHeartbeat(c, l.id)
    c.advance(2)
    // The followers still hear the leader, but their answers are held back.
    const followers = c.options.ids.filter((id) => id !== l.id)
    for (const f of followers) c.cutLink(f, l.id)
    const since = c.sent.length
    const first = c.readIndex(l.id)
    c.advance(3)
    const delayed = c.sentSince(since, "AppendEntriesResponse").filter((m) => m.to === l.id)
    expect(delayed.map((m) => m.from).sort()).toEqual(followers.sort())
    // A second read arrives after the first round went out; then the first round's echoes land.
    const second = c.readIndex(l.id)
    for (const m of delayed) c.inject(l.id, m.from, m.message)
    expect(readOf(c.outcomes.get(first))).toBe(l.commitIndex)
    expect(c.outcomes.has(second)).toBe(false)
    // Replaying them again, or echoing a round never sent (forged), confirms nothing either.
    for (const m of delayed) c.inject(l.id, m.from, m.message)
    for (const m of delayed) {
      const forged: AppendEntriesResponse = { ...(m.message as AppendEntriesResponse), echoedRound: l.reads.round + 7 }
      c.inject(l.id, m.from, forged)
    }
    for (const f of followers) expect(l.progress.get(f as never)!.echoedRound).toBeLessThanOrEqual(l.reads.round)
    expect(c.outcomes.has(second)).toBe(false)
    c.heal()
    expect(c.advanceUntil(() => c.outcomes.has(second), cfg.heartbeatInterval + 5)).toBe(true)
    expect(readOf(c.outcomes.get(second))).toBe(l.commitIndex)
  })

  it("a follower receiving a snapshot confirms reads through its InstallSnapshot acks (§2.3)", () => {
    const c = voters(3, { seed: 84, config: { snapshotChunkCeiling: 1 } })
    const l = awaitLeader(c)
    c.advance(20)
    const [f, g] = c.options.ids.filter((id) => id !== l.id) as [string, string]
    c.crash(f)
    for (const s of ["a", "b", "c"]) c.propose(l.id, bytes(s))
    c.advance(20)
    expect(c.compact(l.id, l.commitIndex, new Uint8Array(500))).toBe(true)
    c.restart(f)
    // Only the follower being sent the snapshot can confirm now.
    c.isolate(g)
    expect(c.advanceUntil(() => l.progress.get(f as never)?.state === "Snapshot", 2 * cfg.heartbeatInterval)).toBe(true)
    const h = c.readIndex(l.id)
    expect(c.advanceUntil(() => c.outcomes.has(h), 2 * cfg.heartbeatInterval)).toBe(true)
    expect(readOf(c.outcomes.get(h))).toBe(l.commitIndex)
    // Confirmed mid-transfer: the follower has not finished installing yet.
    expect(l.progress.get(f as never)?.state).toBe("Snapshot")
    expect(c.sent.some((m) => m.from === f && m.message._tag === "InstallSnapshotResponse" && m.message.echoedRound > 0)).toBe(true)
  })

  it("a follower's or learner's readIndex fails with NotLeader, naming the leader it knows", () => {
    const c = new CoreCluster({ ids: ["a", "b", "c", "l"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["l"]), seed: 76 })
    const l = awaitLeader(c)
    c.advance(20)
    for (const id of ["a", "b", "c", "l"].filter((id) => id !== l.id)) {
      expect(c.outcomes.get(c.readIndex(id))).toMatchObject({ _tag: "NotLeader", leader: l.id })
    }
  })

  it("while joint, a read needs a quorum of the old AND the new voters (§6)", () => {
    const c = new CoreCluster({ ids: ["a", "b", "c", "d", "e"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["d", "e"]), seed: 77 })
    const l = awaitLeader(c)
    c.advance(20)
    const old = ClusterConfig.of(["a", "b", "c"], ["d", "e"])
    const next = ClusterConfig.ofVoters(l.id, "d", "e")
    c.isolate("d")
    c.isolate("e")
    appendLocal(l, { _tag: "Config", index: l.log.lastIndex + 1, term: l.term, config: ConfigPayload.make({ old, new: next }) })
    c.process()
    c.advance(5)
    const h = c.readIndex(l.id)
    c.advance(3 * cfg.heartbeatInterval)
    expect(c.outcomes.has(h)).toBe(false)
    c.heal()
    expect(c.advanceUntil(() => c.outcomes.has(h), cfg.heartbeatInterval + 5)).toBe(true)
    expect(c.outcomes.get(h)?._tag).toBe("Read")
  })
})

describe("readFence (followers and learners, §6.4.1)", () => {
  it("a learner's fenced read sees every write that completed before it began", () => {
    const c = new CoreCluster({ ids: ["a", "b", "c", "l"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["l"]), seed: 78 })
    const leader = awaitLeader(c)
    c.advance(20)
    justAfterHeartbeat(c, leader.id)
    const w = c.propose(leader.id, bytes("before-the-read"))
    expect(c.advanceUntil(() => c.outcomes.has(w), 10)).toBe(true)
    const written = c.outcomes.get(w)
    if (written?._tag !== "Proposed") throw new Error("write did not commit")
    const learner = c.node("l")
    expect(learner.commitIndex).toBeLessThan(written.entry.index)
    const since = c.sent.length
    const h = c.readFence("l")
    expect(c.sentSince(since, "ReadIndexRequest").map((m) => [m.from, m.to])).toEqual([["l", leader.id]])
    expect(c.advanceUntil(() => c.outcomes.has(h), 20)).toBe(true)
    const fence = readOf(c.outcomes.get(h))
    expect(fence).toBeGreaterThanOrEqual(written.entry.index)
    // The learner's applied index reaches the fence; the write is then in its state machine.
    expect(c.advanceUntil(() => Math.max(0, ...committedByIndex(c, "l").keys()) >= fence, 2 * cfg.heartbeatInterval)).toBe(true)
    expect(committedCommands(c, "l")).toContain("before-the-read")
  })

  it("on the leader a fence is a local readIndex", () => {
    const c = voters(3, { seed: 79 })
    const l = awaitLeader(c)
    c.advance(20)
    const since = c.sent.length
    const h = c.readFence(l.id)
    expect(c.advanceUntil(() => c.outcomes.has(h), 10)).toBe(true)
    expect(readOf(c.outcomes.get(h))).toBe(l.commitIndex)
    expect(c.sentSince(since, "ReadIndexRequest")).toEqual([])
  })

  it("a fence asked of a leader that then crashed is asked again of the next leader", () => {
    const c = voters(3, { seed: 80 })
    const l = awaitLeader(c)
    c.advance(20)
    const f = c.options.ids.find((id) => id !== l.id)!
    c.cutLink(l.id, f)
    const since = c.sent.length
    const h = c.readFence(f)
    c.advance(2)
    c.crash(l.id)
    c.heal()
    const next = awaitLeader(c, 3000, c.options.ids.filter((id) => id !== l.id))
    expect(c.advanceUntil(() => c.outcomes.has(h), 100)).toBe(true)
    expect(c.outcomes.get(h)?._tag).toBe("Read")
    const asked = c.sentSince(since, "ReadIndexRequest").filter((m) => m.from === f).map((m) => m.to)
    expect(asked[0]).toBe(l.id)
    if (next.id !== f) expect(asked).toContain(next.id)
  })

  it("with no leader known the fence waits, then goes out once a leader appears", () => {
    const c = voters(3, { seed: 81 })
    const handles = c.options.ids.map((id) => c.readFence(id))
    expect(c.sent.filter((m) => m.message._tag === "ReadIndexRequest")).toEqual([])
    awaitLeader(c)
    expect(c.advanceUntil(() => handles.every((h) => c.outcomes.has(h)), 200)).toBe(true)
    for (const h of handles) expect(c.outcomes.get(h)?._tag).toBe("Read")
  })

  it("an answer from a peer other than the one asked is refused; a NotLeader answer is LeadershipLost", () => {
    const c = voters(3, { seed: 82 })
    const l = awaitLeader(c)
    c.advance(20)
    const [f, g] = c.options.ids.filter((id) => id !== l.id)
    c.isolate(f!)
    c.inject(f!, l.id, { _tag: "AppendEntries", term: l.term, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 0 })
    const h = c.readFence(f!)
    const since = c.traces.length
    c.inject(f!, g!, { _tag: "ReadIndexResponse", requestId: h, outcome: { _tag: "Fence", index: 999 } })
    expect(c.outcomes.has(h)).toBe(false)
    expect(c.tracesOf("FrameRefused", since)).toMatchObject([{ node: f, from: g, gate: "ResponseNotExpected" }])
    c.inject(f!, l.id, { _tag: "ReadIndexResponse", requestId: h, outcome: { _tag: "NotLeader" } })
    expect(c.outcomes.get(h)).toMatchObject({ _tag: "LeadershipLost" })
  })

  it("a cancelled read is never answered", () => {
    const c = voters(3, { seed: 83 })
    const l = awaitLeader(c)
    c.advance(20)
    const h = c.readIndex(l.id)
    c.cancel(l.id, h)
    c.advance(3 * cfg.heartbeatInterval)
    expect(c.outcomes.has(h)).toBe(false)
    expect(l.reads.confirming).toEqual([])
  })
})
