/**
 * B2 — no no-op on election: a fresh leader serves ReadIndex before an entry of its own term has
 * committed, so its commit index (and the read index taken from it) can be older than a write the
 * previous leader already acknowledged — a stale read.
 *
 * Real instances: etcd #7331, RedisRaft #22 (Jepsen #19), adjoint-io/raft #41/#54, TiKV #9239
 * (stale read index right after a leadership transfer).
 *
 * Scenarios (thesis §6.4 step 1: "if the leader has not yet marked an entry from its current term
 * committed, it waits until it has"):
 *   1. n1 acknowledges write W; the followers hold W but have not learned that it committed; n1
 *      crashes. The new leader's commit index is below W. Its read must wait for its no-op and
 *      then answer with an index ≥ W. While its no-op cannot commit, the read never answers.
 *   2. The same after a leadership transfer: W is acknowledged in the very turn the leader sends
 *      TimeoutNow, so the target campaigns with a commit index below W; a read issued the moment
 *      it becomes leader must still cover W.
 */
import { describe, expect, it } from "@effect/vitest"
import { RaftConfig } from "../../services/raft/RaftConfig.js"
import type { CoreCluster } from "../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, voters } from "../raft/core/helpers.js"
import { justAfterHeartbeat, makeLeader, outcomeOf, proposedIndex, readIndexOf } from "./scenario.js"

const cfg = RaftConfig.unsafeMake({})

/** The first index of `term` in the log of `id` (its election no-op). */
const noOpIndexOf = (c: CoreCluster, id: string): number => {
  const core = c.node(id)
  for (let i = core.log.snapshotIndex + 1; i <= core.log.lastIndex; i++) {
    if (core.log.termAt(i) === core.term) return i
  }
  throw new Error(`${id} holds no entry of its term ${core.term}`)
}

describe("B2 a fresh leader's reads wait for an entry of its own term to commit", () => {
  for (const seed of [1, 2, 3]) {
    it(`after a crash: the read covers the acknowledged write, and never answers while the no-op cannot commit (seed ${seed})`, () => {
      const c = voters(3, { seed })
      makeLeader(c, "n1")
      justAfterHeartbeat(c, "n1")
      const w = outcomeOf(c, c.propose("n1", bytes("W")), 10)
      const wIndex = proposedIndex(w)
      // Acknowledged to the client, yet neither follower has learned that W committed.
      for (const id of ["n2", "n3"]) {
        expect(c.node(id).log.lastIndex).toBe(wIndex)
        expect(c.node(id).commitIndex).toBeLessThan(wIndex)
      }
      c.crash("n1")
      const fresh = awaitLeader(c, 2000, ["n2", "n3"])
      const other = fresh.id === "n2" ? "n3" : "n2"
      // A read taken from this commit index would miss W.
      expect(fresh.commitIndex).toBeLessThan(wIndex)

      // Variant 1: the no-op cannot commit (the only other live voter is unreachable): no answer.
      c.cutLink(fresh.id, other)
      const blocked = c.readIndex(fresh.id)
      c.advance(cfg.electionTimeoutMin - 10)
      expect(c.outcomes.has(blocked)).toBe(false)
      expect(c.tracesOf("ReadIndexConfirmed").filter((e) => e.node === fresh.id)).toEqual([])
      // Whatever ends it, it is never a Read below W.
      c.cut.delete(`${fresh.id}->${other}`)
      const o = outcomeOf(c, blocked, 2 * cfg.electionTimeoutMax)
      if (o._tag === "Read") expect(o.index).toBeGreaterThanOrEqual(wIndex)
      else expect(o._tag).toBe("LeadershipLost")

      // Variant 2: a leader elected from scratch (n1 restarted with no commit index, or the other
      // follower): a read issued the moment it is elected answers only after its no-op, and ≥ W.
      c.isolate(fresh.id)
      c.crash(fresh.id)
      c.heal()
      c.restart("n1")
      const l = awaitLeader(c, 3000, ["n1", other])
      expect(l.log.termAt(l.commitIndex)).not.toBe(l.term)
      const noOp = noOpIndexOf(c, l.id)
      const h = c.readIndex(l.id)
      expect(c.outcomes.has(h)).toBe(false)
      const index = readIndexOf(outcomeOf(c, h, 100))
      expect(index).toBeGreaterThanOrEqual(noOp)
      expect(index).toBeGreaterThanOrEqual(wIndex)
      expect(l.log.termAt(l.commitIndex)).toBe(l.term)
    })

    it(`right after a leadership transfer the new leader's read still covers the last acknowledged write (seed ${seed})`, () => {
      const c = voters(3, { seed, latency: 2 })
      makeLeader(c, "n1")
      justAfterHeartbeat(c, "n1")
      // W is proposed and the transfer started in the same turn: W commits (n1 + n2) in the turn
      // TimeoutNow goes out, so n2 starts its election without having learned that W committed.
      const wh = c.propose("n1", bytes("W"))
      const th = c.transferLeadership("n1", "n2")
      const n2 = c.node("n2")
      expect(c.advanceUntil(() => n2.role === "Leader", cfg.electionTimeoutMax)).toBe(true)
      const wIndex = proposedIndex(c.outcomes.get(wh))
      expect(n2.commitIndex).toBeLessThan(wIndex)
      const h = c.readIndex("n2")
      expect(c.outcomes.has(h)).toBe(false)
      const index = readIndexOf(outcomeOf(c, h, 100))
      expect(index).toBeGreaterThanOrEqual(wIndex)
      expect(index).toBeGreaterThanOrEqual(noOpIndexOf(c, "n2"))
      expect(outcomeOf(c, th, 100)).toEqual({ _tag: "Transferred" })
    })
  }
})
